"""Shapes of the saved views API. Validation of the rules (unique names, who may share, the
query's form) is saved_views.services'."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.api.fields import SingleLineSerializerField
from saved_views.models import LISTS, NAME_MAX_LENGTH, QUERY_MAX_LENGTH, SavedView


class SavedViewSerializer(serializers.ModelSerializer):
    list = serializers.ChoiceField(source="list_name", choices=list(LISTS.items()), read_only=True)
    owner = serializers.IntegerField(source="user_id", read_only=True)
    url = serializers.CharField(read_only=True, help_text="The list page with the saved filters and sort.")
    mine = serializers.SerializerMethodField(help_text="Whether the view is yours (only yours can be changed).")
    name = SingleLineSerializerField(max_length=NAME_MAX_LENGTH)

    class Meta:
        model = SavedView
        fields = ["id", "list", "name", "query", "shared", "owner", "mine", "url", "created_at"]
        read_only_fields = ["id", "query", "owner", "created_at"]

    def get_mine(self, view: SavedView) -> bool:
        request = self.context.get("request")
        return bool(request and view.user_id == request.user.pk)

    def create(self, validated_data: Any) -> Any:
        raise NotImplementedError("Writes go through saved_views.services.")

    def update(self, instance: Any, validated_data: Any) -> Any:
        raise NotImplementedError("Writes go through saved_views.services.")


class SavedViewCreateSerializer(serializers.Serializer):
    list = serializers.ChoiceField(choices=list(LISTS.items()), help_text="The list page's URL name.")
    name = SingleLineSerializerField(max_length=NAME_MAX_LENGTH)
    query = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=QUERY_MAX_LENGTH * 2,
        help_text="The list's query string (filters and sort); the page number is dropped.",
    )
    shared = serializers.BooleanField(required=False, default=False, help_text="Managers only.")
