"""Thin, idempotent tasks: take ids, re-read, claim, call the email builder."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from core.mail import TRANSIENT_SEND_ERRORS, send_error_text, send_failure_is_final
from crm import emails
from crm.models import LoginSession, OwnershipChange

logger = logging.getLogger(__name__)


@shared_task(
    bind=True, autoretry_for=TRANSIENT_SEND_ERRORS, retry_backoff=True, retry_backoff_max=180, max_retries=6,
)
def send_ownership_notice(self: Task, change_ids: list[int]) -> int:
    """Emails a new owner about their accounts, once: rows are claimed by `notified_at`.

    The claim and the send share a transaction: if sending fails the claim rolls back and the
    retry sends; two workers never both claim a row (skip_locked). A failure retrying cannot
    cure, or the last retry's, is recorded on the rows (`notice_failed_at`, `notice_error`).
    """
    try:
        with transaction.atomic():
            changes = list(
                OwnershipChange.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(pk__in=change_ids, notified_at__isnull=True, notice_failed_at__isnull=True)
                .select_related("account", "to_user__profile", "from_user")
                .order_by("account__name")
            )
            if not changes:
                return 0
            to_user = changes[0].to_user
            if to_user.email:
                emails.ownership_notice(to_user=to_user, changes=changes).send()
            else:
                logger.warning("New owner %s has no email; ownership notice not sent", to_user.pk)
            OwnershipChange.objects.filter(pk__in=[c.pk for c in changes]).update(notified_at=timezone.now())
        return len(changes)
    except Exception as error:
        if not send_failure_is_final(self, error):
            raise  # retried with backoff (autoretry_for)
        logger.warning("Ownership notice %s failed: %s", change_ids, send_error_text(error))
        OwnershipChange.objects.filter(
            pk__in=change_ids, notified_at__isnull=True, notice_failed_at__isnull=True
        ).update(notice_failed_at=timezone.now(), notice_error=send_error_text(error))
        return 0


@shared_task
def clear_expired_sessions() -> int:
    """Deletes expired sessions and the login rows that point at them."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    live = Session.objects.values("session_key")
    LoginSession.objects.exclude(session_key__in=live).delete()
    return deleted
