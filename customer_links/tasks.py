"""The customer link's one task: email it, once."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.db import transaction
from django.utils import timezone

from core.mail import TRANSIENT_SEND_ERRORS, send_error_text, send_failure_is_final
from customer_links import services as links
from customer_links.models import CustomerLink

logger = logging.getLogger(__name__)


def link_send_on_commit(link: CustomerLink) -> None:
    """Queues the link's email by id only: the task mints the token it sends (`link_mint`), so no
    token passes through the broker, a task's arguments or the worker's log."""
    email_customer_link.delay_on_commit(link.pk)


# Registered under the name it had in crm: a message queued before a deploy names the task by
# it, and nothing else would email that link (no dispatcher sweeps links not yet emailed).
@shared_task(
    name="crm.tasks.email_customer_link",
    bind=True, autoretry_for=TRANSIENT_SEND_ERRORS, retry_backoff=True, retry_backoff_max=180, max_retries=6,
)
def email_customer_link(self: Task, link_id: int) -> int:
    """Emails a customer link once: minting its token is the claim (`emailed_at`), in the send's
    transaction. A link revoked or used meanwhile is not sent. The token is made here and goes
    into the email only, never into the task's arguments (they sit in the broker and its logs).
    A failure retrying cannot cure, or the last retry's, is recorded on the link (`email_failed_at`,
    `email_error`): staff see it and send a new link."""
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
