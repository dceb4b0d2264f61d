"""Thin, idempotent tasks: ids in, re-read, send through the outbox."""

from __future__ import annotations

from celery import Task, shared_task
from django.db import transaction

from core.mail import TRANSIENT_SEND_ERRORS
from handover.models import Handover
from handover.notices import ACCEPTANCE, acceptance_key
from outbox import notices
from outbox.models import Notice
from outbox.tasks import worker_retries_left


def acceptance_emails_owe(handover: Handover) -> None:
    """Owes the acceptance emails (in the accepting transaction), sent at once by
    `send_acceptance_emails` when it commits."""
    notices.notice_schedule(
        kind=ACCEPTANCE, key=acceptance_key(handover.pk), target=handover,
        send_by=lambda: send_acceptance_emails.delay(handover.pk),
    )


@shared_task(
    bind=True, autoretry_for=TRANSIENT_SEND_ERRORS, retry_backoff=True, retry_backoff_max=180, max_retries=6,
)
def send_acceptance_emails(self: Task, handover_id: int) -> int:
    """Sends the acceptance emails now, once (the outbox notice "handover.acceptance"); a mail
    server that is down is retried with backoff, then the notice ends failed and the handover
    shows why (`acceptance_email_failed_at`, `acceptance_email_error`)."""
    key = acceptance_key(handover_id)
    if notices.deliver_now(key, worker_retries=worker_retries_left(self)):
        return 1
    _owe_for_a_message_from_before_the_outbox(handover_id, key)
    return 0


def _owe_for_a_message_from_before_the_outbox(handover_id: int, key: str) -> None:
    """A message queued before these emails went through the outbox names a handover no notice is
    owed for: owe it now, if its emails were neither sent nor failed (this task is queued again)."""
    with transaction.atomic():
        handover = Handover.objects.filter(
            pk=handover_id, state=Handover.State.ACCEPTED, acceptance_notified_at__isnull=True,
            acceptance_email_failed_at__isnull=True,
        ).first()
        if handover is not None and not Notice.objects.filter(key=key).exists():
            acceptance_emails_owe(handover)
