"""Thin, idempotent tasks: take ids, re-read, claim, call the email builder."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from crm import emails
from crm.mail import TRANSIENT_SEND_ERRORS, send_error_text, send_failure_is_final
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


@shared_task
def dispatch_notices() -> int:
    """Beat's one dispatcher, every minute: claims what is due in the outbox and queues each send."""
    from crm import notices

    return notices.dispatch()


@shared_task
def deliver_notice(notice_id: int) -> str:
    """Sends one claimed notice (crm.notices.deliver); safe to run twice."""
    from crm import notices

    return notices.deliver(notice_id)


@shared_task
def deliver_notices(notice_ids: list[int]) -> int:
    """Sends a chunk of claimed notices, each in its own transaction; safe to run twice."""
    from crm import notices

    return sum(notices.deliver(pk) == "sent" for pk in notice_ids)


@shared_task(
    bind=True, autoretry_for=TRANSIENT_SEND_ERRORS, retry_backoff=True, retry_backoff_max=180, max_retries=6,
)
def email_customer_link(self: Task, link_id: int) -> int:
    """Emails a customer link once: minting its token is the claim (`emailed_at`), in the send's
    transaction. A link revoked or used meanwhile is not sent. The token is made here and goes
    into the email only, never into the task's arguments (they sit in the broker and its logs).
    A failure retrying cannot cure, or the last retry's, is recorded on the link (`email_failed_at`,
    `email_error`): staff see it and send a new link."""
    from crm import links
    from crm.models import CustomerLink

    try:
        with transaction.atomic():
            raw_token = links.link_mint(link_id, now=timezone.now())
            if raw_token is None:
                return 0
            link = CustomerLink.objects.select_related("account__owner__profile", "contact").get(pk=link_id)
            links.link_email(link, raw_token).send()
        return 1
    except Exception as error:
        if not send_failure_is_final(self, error):
            raise  # retried with backoff (autoretry_for)
        logger.warning("Customer link %s email failed: %s", link_id, send_error_text(error))
        CustomerLink.objects.filter(pk=link_id, emailed_at__isnull=True).update(
            email_failed_at=timezone.now(), email_error=send_error_text(error)
        )
        return 0
