"""Thin, idempotent tasks: ids in, re-read, claim by conditional UPDATE, send."""

from __future__ import annotations

import logging
from smtplib import SMTPException

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from handover import emails
from handover.models import Handover

logger = logging.getLogger(__name__)
RETRY = {"autoretry_for": (SMTPException, ConnectionError, TimeoutError), "retry_backoff": True, "max_retries": 6}


@shared_task(**RETRY)
def send_acceptance_emails(handover_id: int) -> int:
    """The customer's introduction to their delivery owner, and notes to the rep and the owner.
    Claimed by `acceptance_notified_at`; claim and send share a transaction so a failed send is
    retried and a sent one never repeats."""
    with transaction.atomic():
        claimed = Handover.objects.filter(
            pk=handover_id, state=Handover.State.ACCEPTED, acceptance_notified_at__isnull=True
        ).update(acceptance_notified_at=timezone.now())
        if not claimed:
            return 0
        handover = Handover.objects.select_related("deal", "account", "rep", "delivery_owner__profile").get(
            pk=handover_id
        )
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


@shared_task(**RETRY)
def send_back_notice(handover_id: int) -> int:
    handover = Handover.objects.select_related("deal", "account", "rep").get(pk=handover_id)
    if handover.state not in (Handover.State.RETURNED, Handover.State.REJECTED) or not handover.rep.email:
        return 0
    emails.back_notice(handover=handover).send()
    return 1
