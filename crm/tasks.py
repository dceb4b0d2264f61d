"""Thin, idempotent tasks: take ids, re-read, call the outbox or a service."""

from __future__ import annotations

from celery import Task, shared_task
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from core.mail import TRANSIENT_SEND_ERRORS
from crm.models import LoginSession, OwnershipChange
from crm.notices import OWNERSHIP_NOTICE, ownership_notice_key
from outbox import notices
from outbox.models import Notice
from outbox.tasks import worker_retries_left


def ownership_notice_owe(change_ids: list[int]) -> None:
    """Owes one new owner an email about these changes of theirs (in the caller's transaction),
    sent at once by `send_ownership_notice` when it commits."""
    notices.notice_schedule(
        kind=OWNERSHIP_NOTICE, key=ownership_notice_key(change_ids), target=f"crm.ownershipchange:{min(change_ids)}",
        data={"changes": change_ids}, send_by=lambda: send_ownership_notice.delay(change_ids),
    )


@shared_task(
    bind=True, autoretry_for=TRANSIENT_SEND_ERRORS, retry_backoff=True, retry_backoff_max=180, max_retries=6,
)
def send_ownership_notice(self: Task, change_ids: list[int]) -> int:
    """Sends a new owner's email about their accounts now, once (the outbox notice
    "crm.ownership_notice"); a mail server that is down is retried with backoff, then the notice
    ends failed and so do its ledger rows (`notice_failed_at`, `notice_error`)."""
    key = ownership_notice_key(change_ids)
    if notices.deliver_now(key, worker_retries=worker_retries_left(self)):
        return len(change_ids)
    _owe_for_a_message_from_before_the_outbox(change_ids, key)
    return 0


def _owe_for_a_message_from_before_the_outbox(change_ids: list[int], key: str) -> None:
    """A message queued before this email went through the outbox names changes no notice is
    owed for: owe it now for those the new owner was not told of (this task is queued again)."""
    with transaction.atomic():
        if Notice.objects.filter(key=key).exists():
            return
        unsent = list(
            OwnershipChange.objects.filter(pk__in=change_ids, notified_at__isnull=True, notice_failed_at__isnull=True)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if unsent:
            ownership_notice_owe(unsent)


@shared_task
def clear_expired_sessions() -> int:
    """Deletes expired sessions and the login rows that point at them."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    live = Session.objects.values("session_key")
    LoginSession.objects.exclude(session_key__in=live).delete()
    return deleted
