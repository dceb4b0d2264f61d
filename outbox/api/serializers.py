"""The bell's API shapes. Read-only rows; the one write (email choices) is validated here and
saved by outbox.services."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from outbox.models import Notification
from outbox.topics import TOPICS


class NotificationSerializer(serializers.ModelSerializer):
    topic = serializers.CharField(source="topic_label", read_only=True)
    unread = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "kind", "topic", "title", "link", "emailed", "created_at", "read_at", "unread"]
        read_only_fields = fields

    def get_unread(self, notification: Notification) -> bool:
        return notification.read_at is None

    def save(self, **kwargs: Any) -> Any:
        raise NotImplementedError("Notifications are written by the outbox's sender.")


class ReadAllSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many unread notifications were marked read.")


class TopicSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()


class EmailChoicesSerializer(serializers.Serializer):
    """`email`: each kind of notification (topic key) -> whether you also get its email."""

    email = serializers.DictField(
        child=serializers.JSONField(),
        help_text="Topic -> true (the email too) or false (the bell only). Topics left out keep their choice.",
    )
    topics = TopicSerializer(many=True, read_only=True)

    def to_representation(self, instance: Any) -> Any:
        return {"email": instance, "topics": [{"key": t.key, "name": t.label, "description": t.help} for t in TOPICS]}
