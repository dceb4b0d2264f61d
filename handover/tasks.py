"""Thin, idempotent tasks: ids in, re-read, claim by conditional UPDATE, send."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.db import transaction
from django.utils import timezone

from core.mail import TRANSIENT_SEND_ERRORS, send_error_text, send_failure_is_final
from handover import emails
from handover.models import Handover

logger = logging.getLogger(__name__)


@shared_task(
    bind=True, autoretry_for=TRANSIENT_SEND_ERRORS, retry_backoff=True, retry_backoff_max=180, max_retries=6,
)
def send_acceptance_emails(self: Task, handover_id: int) -> int:
    """The customer's introduction to their delivery owner, and notes to the rep and the owner.
    Claimed by `acceptance_notified_at`; claim and send share a transaction so a failed send is
    retried and a sent one never repeats. A failure retrying cannot cure (or the last retry's)
    is recorded on the handover (`acceptance_email_failed_at`, `acceptance_email_error`), where
    its page and the admin show it."""
    try:
        with transaction.atomic():
            claimed = Handover.objects.filter(
                pk=handover_id, state=Handover.State.ACCEPTED, acceptance_notified_at__isnull=True,
                acceptance_email_failed_at__isnull=True,
            ).update(acceptance_notified_at=timezone.now())
            if not claimed:
                return 0
            handover = Handover.objects.select_related(
                "deal", "account", "rep__profile", "delivery_owner__profile"
            ).get(pk=handover_id)
            messages = [
                emails.customer_introduction(handover=handover, contact=link.contact)
                for link in handover.contacts.select_related("contact")
                if link.contact.email and link.contact.is_active and not link.contact.do_not_contact
            ]
            for user in {handover.rep, handover.delivery_owner}:
                if user is not None and user.email:
                    messages.append(emails.accepted_notice(handover=handover, to_user=user))
            for message in messages:
                message.send()
        return len(messages)
    except Exception as error:
        if not send_failure_is_final(self, error):
            raise  # retried with backoff (autoretry_for)
        logger.warning("Acceptance emails of handover %s failed: %s", handover_id, send_error_text(error))
        Handover.objects.filter(pk=handover_id, acceptance_notified_at__isnull=True).update(
            acceptance_email_failed_at=timezone.now(), acceptance_email_error=send_error_text(error)
        )
        return 0
