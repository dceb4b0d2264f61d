"""The bell's one object helper: a user's own notification, or 404 (someone else's and a
missing one answer alike)."""

from __future__ import annotations

from typing import Any

from django.http import Http404

from outbox.models import Notification


def get_notification_for(user: Any, pk: Any) -> Notification:
    try:
        return Notification.objects.get(pk=int(pk), user_id=user.pk)
    except (ValueError, TypeError, OverflowError, Notification.DoesNotExist):
        raise Http404("Not found.") from None
