"""Emails the handover sends; built here, sent by tasks after commit."""

from __future__ import annotations

from typing import Any

from django.core.mail import EmailMultiAlternatives

from core.mail import email_message
from core.time_zones import zone_of
from handover.models import Handover


def _message(
    *, template: str, subject: str, to: list[str], context: dict[str, Any], zone_from: Any
) -> EmailMultiAlternatives:
    """`zone_from`: the user whose time zone the email's times are in (the recipient, or for a
    customer their delivery owner)."""
    return email_message(
        subject=subject, template=f"handover/email/{template}", to=to, context=context, zone=zone_of(zone_from)
    )


def customer_introduction(*, handover: Handover, contact: Any) -> EmailMultiAlternatives:
    """Tells a customer contact who their delivery owner is and how to reach them."""
    owner = handover.delivery_owner
    return _message(
        template="customer_introduction",
        subject=f"Your delivery owner for {handover.deal.name}: {owner.get_full_name() or owner.username}",  # type: ignore[union-attr]
        to=[contact.email],
        context={"handover": handover, "contact": contact, "owner": owner, "phone": _phone(owner)},
        zone_from=owner,
    )


def accepted_notice(*, handover: Handover, to_user: Any) -> EmailMultiAlternatives:
    return _message(
        template="accepted_notice",
        subject=f"Handover accepted: {handover.account.name} — {handover.deal.name}",
        to=[to_user.email],
        context={"handover": handover, "user": to_user, "owner": handover.delivery_owner},
        zone_from=to_user,
    )


def back_notice(*, handover: Handover) -> EmailMultiAlternatives:
    return _message(
        template="back_notice",
        subject=f"Handover {handover.get_state_display().lower()}: {handover.deal.name}",
        to=[handover.rep.email],
        context={"handover": handover},
        zone_from=handover.rep,
    )


def escalation(*, handover: Handover, to_user: Any) -> EmailMultiAlternatives:
    return _message(
        template="escalation",
        subject=f"Overdue handover: {handover.account.name} — {handover.deal.name}",
        to=[to_user.email],
        context={"handover": handover, "user": to_user},
        zone_from=to_user,
    )


def _phone(user: Any) -> str:
    profile = getattr(user, "profile", None)
    return getattr(profile, "phone", "") or ""
