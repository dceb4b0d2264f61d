"""Emails the handover sends; built here, sent by tasks after commit."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from handover.models import Handover


def _message(*, template: str, subject: str, to: list[str], context: dict[str, Any]) -> EmailMultiAlternatives:
    context = {**context, "site_url": settings.SITE_URL}
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"handover/email/{template}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
    )
    return message


def customer_introduction(*, handover: Handover, contact: Any) -> EmailMultiAlternatives:
    """Tells a customer contact who their delivery owner is and how to reach them."""
    owner = handover.delivery_owner
    return _message(
        template="customer_introduction",
        subject=f"Your delivery owner for {handover.deal.name}: {owner.get_full_name() or owner.username}",  # type: ignore[union-attr]
        to=[contact.email],
        context={"handover": handover, "contact": contact, "owner": owner, "phone": _phone(owner)},
    )


def accepted_notice(*, handover: Handover, to_user: Any) -> EmailMultiAlternatives:
    return _message(
        template="accepted_notice",
        subject=f"Handover accepted: {handover.account.name} — {handover.deal.name}",
        to=[to_user.email],
        context={"handover": handover, "user": to_user, "owner": handover.delivery_owner},
    )


def back_notice(*, handover: Handover) -> EmailMultiAlternatives:
    return _message(
        template="back_notice",
        subject=f"Handover {handover.get_state_display().lower()}: {handover.deal.name}",
        to=[handover.rep.email],
        context={"handover": handover},
    )


def escalation(*, handover: Handover, to: list[str]) -> EmailMultiAlternatives:
    return _message(
        template="escalation",
        subject=f"Overdue handover: {handover.account.name} — {handover.deal.name}",
        to=to,
        context={"handover": handover},
    )


def _phone(user: Any) -> str:
    profile = getattr(user, "profile", None)
    return getattr(profile, "phone", "") or ""
