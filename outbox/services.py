"""The bell's writes: a user marks their notifications read, and chooses per topic whether
they also want the email. Each user writes only their own (another's notification is 404
before it gets here). No timeline event: reading one's notifications, or choosing one's
emails, changes nothing about an account."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from outbox.models import EmailOptOut, Notification
from outbox.topics import BY_KEY


def notification_read(*, notification: Notification, by: Any) -> Notification:
    """Marks it read, once (a conditional UPDATE: reading it again keeps the first time)."""
    if notification.user_id != by.pk:
        raise PermissionDenied("Only its recipient reads a notification.")
    if notification.read_at is None:
        now = timezone.now()
        if Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=now):
            notification.read_at = now
        else:
            notification.refresh_from_db(fields=["read_at"])
    return notification


def notifications_read_all(*, by: Any) -> int:
    """Marks every unread notification of `by` read; returns how many."""
    return Notification.objects.filter(user_id=by.pk, read_at__isnull=True).update(read_at=timezone.now())


@transaction.atomic
def email_choices_set(*, user: Any, by: Any, choices: dict[str, Any]) -> dict[str, bool]:
    """`choices`: topic -> whether `user` wants its email (topics left out keep theirs). Refuses
    an unknown topic or a value that is not true or false, naming the field, and saves nothing.
    Saving what is already chosen writes nothing."""
    if by.pk != user.pk:
        raise PermissionDenied("Each person chooses their own emails.")
    unknown = sorted(str(key) for key in choices if key not in BY_KEY)
    if unknown:
        raise ValidationError({"email": f"Unknown kind of notification: {', '.join(unknown)}. "
                                        f"Known: {', '.join(BY_KEY)}."})
    not_bool = sorted(key for key, value in choices.items() if not isinstance(value, bool))
    if not_bool:
        raise ValidationError({"email": f"Say true or false for {', '.join(not_bool)}."})
    off = set(EmailOptOut.objects.select_for_update().filter(user_id=user.pk).values_list("topic", flat=True))
    turn_off = [key for key, wanted in choices.items() if not wanted and key not in off]
    turn_on = [key for key, wanted in choices.items() if wanted and key in off]
    if turn_on:
        EmailOptOut.objects.filter(user_id=user.pk, topic__in=turn_on).delete()
    EmailOptOut.objects.bulk_create(
        [EmailOptOut(user_id=user.pk, topic=key) for key in turn_off], ignore_conflicts=True
    )
    return {key: key not in (off | set(turn_off)) - set(turn_on) for key in BY_KEY}
