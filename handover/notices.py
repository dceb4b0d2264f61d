"""The handover's notices in the one outbox (outbox.notices).

- The escalation: a producer owes one notice per handover past its acceptance deadline, the
  dispatcher claims it, its `prepare` step marks the handover escalated (`escalated_at`, a
  conditional UPDATE, with its event) and the builder emails the delivery managers once.
- The acceptance emails: the customer's introduction to their delivery owner, and notes to the
  rep and the owner, owed by the acceptance and sent at once by `tasks.send_acceptance_emails`;
  their outcome is recorded on the handover, where its page and the admin show a failure.
- The back notice: the rep is told why their handover came back.
- The review request (a rep submitted: the sales managers) and the acceptance request (sales
  approved: the delivery managers), owed by the step and sent at once; moot once the handover
  moved on."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.utils import timezone

from crm import roles
from handover import emails, events
from handover.models import Handover
from outbox import notices
from outbox.models import Notice

logger = logging.getLogger(__name__)


@notices.register_producer("handover.escalations")
def owe_escalations(now: datetime) -> int:
    owed = 0
    overdue = Handover.objects.overdue(now).filter(escalated_at__isnull=True).values_list("pk", flat=True)[:500]
    for pk in overdue:
        if notices.notice_schedule(
            kind="handover.escalation", key=f"handover.escalation:{pk}", target=f"handover.handover:{pk}", due_at=now
        ):
            owed += 1
    return owed


def mark_escalated(notice: Notice) -> dict[str, Any] | None:
    """Prepare: the handover is escalated now, once (a conditional UPDATE and its event); None
    when it was accepted or rejected meanwhile, or already escalated."""
    pk = notices.target_pk(notice.target)
    now = timezone.now()
    if not Handover.objects.overdue(now).filter(pk=pk, escalated_at__isnull=True).update(escalated_at=now):
        return None
    handover = Handover.objects.select_related("deal", "account").get(pk=pk)
    events.handover_escalated_event(handover=handover)
    return {"handover": handover}


@notices.register("handover.escalation", prepare=mark_escalated, topic="escalations")
def escalation(notice: Notice, *, handover: Handover) -> list[EmailMessage]:
    managers = _managers(roles.DELIVERY_MANAGER)
    if not managers:
        logger.warning("Overdue handover %s: no delivery manager has an email", handover.pk)
        return []
    # One email per manager: each reads the deadline in their own time zone.
    return [emails.escalation(handover=handover, to_user=manager) for manager in managers]


def _managers(role: str) -> list[Any]:
    """The active users of `role` with an email, one per address."""
    managers = (
        get_user_model()
        .objects.filter(is_active=True, groups__name=role)
        .exclude(email="")
        .select_related("profile")
        .distinct()
        .order_by("email", "pk")
    )
    return list({manager.email: manager for manager in managers}.values())


REVIEW_REQUEST = "handover.review_request"
ACCEPTANCE_REQUEST = "handover.acceptance_request"


def _handover_in(notice: Notice, state: str) -> Handover | None:
    return (
        Handover.objects.select_related("deal", "account", "rep")
        .filter(pk=notices.target_pk(notice.target), state=state)
        .first()
    )


@notices.register(REVIEW_REQUEST, topic="review_requests")
def review_request(notice: Notice) -> list[EmailMessage]:
    """The sales managers hear a handover waits for their review; moot once reviewed."""
    handover = _handover_in(notice, Handover.State.SUBMITTED)
    if handover is None:
        return []
    return [emails.review_request(handover=handover, to_user=user) for user in _managers(roles.SALES_MANAGER)]


@notices.register(ACCEPTANCE_REQUEST, topic="acceptance")
def acceptance_request(notice: Notice) -> list[EmailMessage]:
    """The delivery managers hear a handover waits for their acceptance; moot once answered."""
    handover = _handover_in(notice, Handover.State.SALES_APPROVED)
    if handover is None:
        return []
    return [emails.acceptance_request(handover=handover, to_user=user) for user in _managers(roles.DELIVERY_MANAGER)]


ACCEPTANCE = "handover.acceptance"


def acceptance_key(handover_id: int) -> str:
    return f"{ACCEPTANCE}:{handover_id}"


def record_acceptance_emails(notice: Notice) -> None:
    """What the handover's page and the admin show: when the acceptance emails went, or why not
    (a failed notice that staff retry from the outbox's admin clears it when it goes)."""
    pk = notices.target_pk(notice.target)
    if notice.state in (Notice.State.SENT, Notice.State.SKIPPED):
        Handover.objects.filter(pk=pk, state=Handover.State.ACCEPTED, acceptance_notified_at__isnull=True).update(
            acceptance_notified_at=notice.sent_at or timezone.now(), acceptance_email_failed_at=None,
            acceptance_email_error="",
        )
    elif notice.state == Notice.State.FAILED:
        Handover.objects.filter(pk=pk, acceptance_notified_at__isnull=True).update(
            acceptance_email_failed_at=timezone.now(), acceptance_email_error=notice.last_error
        )


@notices.register(ACCEPTANCE, outcome=record_acceptance_emails, topic="acceptance")
def acceptance_emails(notice: Notice) -> list[EmailMessage]:
    """The customer's contacts meet their delivery owner; the rep and the owner hear it is accepted."""
    handover = (
        Handover.objects.select_related("deal", "account", "rep__profile", "delivery_owner__profile")
        .filter(pk=notices.target_pk(notice.target), state=Handover.State.ACCEPTED)
        .first()
    )
    if handover is None:
        return []
    messages: list[EmailMessage] = [
        emails.customer_introduction(handover=handover, contact=link.contact)
        for link in handover.contacts.select_related("contact")
        if link.contact.email and link.contact.is_active and not link.contact.do_not_contact
    ]
    for user in {handover.rep, handover.delivery_owner}:
        if user is not None and user.email:
            messages.append(emails.accepted_notice(handover=handover, to_user=user))
    return messages


@notices.register("handover.back_notice", topic="sent_back")
def back_notice(notice: Notice) -> list[EmailMessage]:
    """Tells the rep their handover was returned or rejected, and why; moot once they resubmitted."""
    handover = (
        Handover.objects.select_related("deal", "account", "rep__profile")
        .filter(pk=notices.target_pk(notice.target))
        .first()
    )
    if (
        handover is None
        or handover.state not in (Handover.State.RETURNED, Handover.State.REJECTED)
        or not handover.rep.email
    ):
        return []
    return [emails.back_notice(handover=handover)]
