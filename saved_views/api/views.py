"""The saved views API (/api/v1/saved-views/): your views and the team's shared ones to read;
yours to create, rename, share (managers) and delete."""

from __future__ import annotations

from typing import Any

import django_filters
from django.core.exceptions import ValidationError
from django.db import transaction
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.filters import TrueOrFalseFilter
from core.api.views import ApiViewSet
from saved_views import permissions, services
from saved_views.api.serializers import SavedViewCreateSerializer, SavedViewSerializer
from saved_views.models import LISTS, SavedView


class SavedViewFilter(django_filters.FilterSet):
    list = django_filters.ChoiceFilter(field_name="list_name", choices=list(LISTS.items()))
    mine = TrueOrFalseFilter(method="filter_mine", help_text="true: only your own views.")
    shared = TrueOrFalseFilter()

    class Meta:
        model = SavedView
        fields = ["list", "mine", "shared"]

    def filter_mine(self, queryset: Any, name: str, value: bool | None) -> Any:
        if value is None:
            return queryset
        user = self.request.user  # type: ignore[union-attr]
        return queryset.filter(user_id=user.pk) if value else queryset.exclude(user_id=user.pk)


def _as_api_errors(exc: ValidationError) -> ValidationError:
    """The service's errors keyed as the API names its fields (`list`, not `list_name`)."""
    if hasattr(exc, "error_dict") and "list_name" in exc.error_dict:
        errors = exc.message_dict
        errors["list"] = errors.pop("list_name")
        return ValidationError(errors)
    return exc


@extend_schema_view(
    list=extend_schema(summary="Your saved views and the ones shared with the team"),
    retrieve=extend_schema(summary="One saved view (yours or a shared one)"),
    create=extend_schema(summary="Save a list's filters and sort under a name", request=SavedViewCreateSerializer,
                         responses={201: SavedViewSerializer}),
    update=extend_schema(summary="Rename or (managers) share one of your views"),
    partial_update=extend_schema(summary="Rename or (managers) share one of your views"),
    destroy=extend_schema(summary="Delete one of your views"),
)
@extend_schema(tags=["saved views"])
class SavedViewViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet,
):
    serializer_class = SavedViewSerializer
    filterset_class = SavedViewFilter
    search_fields = ["name"]
    ordering_fields = ["name", "created_at"]
    ordering = ["name", "pk"]
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return SavedView.objects.none()
        return SavedView.objects.readable_by(self.request.user).order_by("name", "pk")

    def get_object(self) -> SavedView:
        if self.action == "retrieve":
            return permissions.get_view_for(self.request.user, self.kwargs["pk"])
        return permissions.get_own_view_for(self.request.user, self.kwargs["pk"])

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self._body(SavedViewCreateSerializer)
        if data.get("shared"):
            permissions.require_can_share(request.user)  # the role before the rest of the body
        try:
            view = services.saved_view_create(
                by=request.user, list_name=data["list"], name=data["name"], query=data.get("query", ""),
                shared=data.get("shared", False),
            )
        except ValidationError as exc:
            raise _as_api_errors(exc) from None
        return Response(self.get_serializer(view).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        partial = kwargs.pop("partial", False)
        view = self.get_object()
        serializer = self.get_serializer(view, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if "shared" in data and data["shared"] != view.shared:
            permissions.require_can_share(request.user)
        # Both changes or neither: the rename's refusal (a taken name) leaves the sharing as it was.
        with transaction.atomic():
            if "name" in data and data["name"] != view.name:
                view = services.saved_view_rename(view=view, by=request.user, name=data["name"])
            if "shared" in data and data["shared"] != view.shared:
                view = services.saved_view_share(view=view, by=request.user, shared=data["shared"])
        return Response(self.get_serializer(view).data)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        kwargs["partial"] = True
        return self.update(request, *args, **kwargs)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        view = self.get_object()
        services.saved_view_delete(view=view, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
