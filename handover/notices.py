"""The handover's escalation, through the one outbox (outbox.notices): a producer owes one notice
per handover past its acceptance deadline, the dispatcher claims it, the builder claims the
handover (`escalated_at`, a conditional UPDATE) and emails the delivery managers once."""

from __future__ import annotations

import logging
from datetime import datetime

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


@notices.register("handover.escalation")
def escalation(notice: Notice) -> list[EmailMessage]:
    pk = notices.target_pk(notice.target)
    claimed = (
        Handover.objects.overdue(timezone.now())
        .filter(pk=pk, escalated_at__isnull=True)
        .update(escalated_at=timezone.now())
    )
    if not claimed:
        return []  # accepted or rejected meanwhile, or already escalated
    handover = Handover.objects.select_related("deal", "account").get(pk=pk)
    managers = list(
        get_user_model()
        .objects.filter(is_active=True, groups__name=roles.DELIVERY_MANAGER)
        .exclude(email="")
        .select_related("profile")
        .distinct()
        .order_by("email", "pk")
    )
    events.handover_escalated_event(handover=handover)
    if not managers:
        logger.warning("Overdue handover %s: no delivery manager has an email", pk)
        return []
    # One email per manager: each reads the deadline in their own time zone.
    by_email = {manager.email: manager for manager in managers}
    return [emails.escalation(handover=handover, to_user=manager) for manager in by_email.values()]


@notices.register("handover.back_notice")
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
