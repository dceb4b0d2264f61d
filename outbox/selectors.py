"""The bell's reads: a user's unread count (on every staff page, so one indexed query that
stops at the cap), their latest notifications and their list."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from core.counting import capped_count
from outbox.models import EmailOptOut, Notification
from outbox.topics import TOPICS

# The header shows "99+" beyond this.
UNREAD_CAP = 99
LATEST = 8


def unread_count(user: Any) -> int:
    """Up to UNREAD_CAP + 1 (which reads "more than UNREAD_CAP"), on the partial unread index."""
    return capped_count(Notification.objects.filter(user_id=user.pk, read_at__isnull=True), UNREAD_CAP)


def unread_label(count: int) -> str:
    return f"{UNREAD_CAP}+" if count > UNREAD_CAP else str(count)


def notifications_of(user: Any, *, unread: bool = False) -> QuerySet[Notification]:
    rows = Notification.objects.filter(user_id=user.pk).order_by("-created_at", "-pk")
    return rows.filter(read_at__isnull=True) if unread else rows


def latest(user: Any) -> list[Notification]:
    return list(notifications_of(user)[:LATEST])


def email_choices(user: Any) -> dict[str, bool]:
    """Each topic, in order, with whether the user wants its email (the default: yes)."""
    off = set(EmailOptOut.objects.filter(user_id=user.pk).values_list("topic", flat=True))
    return {topic.key: topic.key not in off for topic in TOPICS}
