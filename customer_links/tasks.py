"""The customer link's one task: email it now, once (the outbox notice "customer_links.email")."""

from __future__ import annotations

from celery import Task, shared_task
from django.db import transaction

from core.mail import TRANSIENT_SEND_ERRORS
from customer_links.emails import LINK_EMAIL, link_email_key
from customer_links.models import CustomerLink
from outbox import notices
from outbox.models import Notice
from outbox.tasks import worker_retries_left


def link_send_on_commit(link: CustomerLink) -> None:
    """Owes the link's email (in the caller's transaction) and queues its send by id only: the
    token is minted when it is sent (`link_mint`), so no token passes through the broker, a
    task's arguments or the worker's log."""
    notices.notice_schedule(
        kind=LINK_EMAIL, key=link_email_key(link.pk), target=link, send_by=lambda: email_customer_link.delay(link.pk)
    )


# Registered under the name it had in crm: a message queued before a deploy names the task by it.
@shared_task(
    name="crm.tasks.email_customer_link",
    bind=True, autoretry_for=TRANSIENT_SEND_ERRORS, retry_backoff=True, retry_backoff_max=180, max_retries=6,
)
def email_customer_link(self: Task, link_id: int) -> int:
    """Sends a customer link's email now, once; a mail server that is down is retried with
    backoff, then the notice ends failed and the link shows why (`email_failed_at`,
    `email_error`): staff send a new link."""
    key = link_email_key(link_id)
    if notices.deliver_now(key, worker_retries=worker_retries_left(self)):
        return 1
    _owe_for_a_message_from_before_the_outbox(link_id, key)
    return 0


def _owe_for_a_message_from_before_the_outbox(link_id: int, key: str) -> None:
    """A message queued before links were emailed through the outbox names a link no notice is
    owed for: owe it now, if the link still waits for its email (this task is queued again)."""
    with transaction.atomic():
        link = CustomerLink.objects.filter(
            pk=link_id, emailed_at__isnull=True, email_failed_at__isnull=True, revoked_at__isnull=True,
            used_at__isnull=True,
        ).first()
        if link is not None and not Notice.objects.filter(key=key).exists():
            link_send_on_commit(link)
