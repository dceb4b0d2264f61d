"""Emails the handover sends; built here, sent by tasks after commit."""

from __future__ import annotations

from typing import Any

from django.core.mail import EmailMultiAlternatives
from django.urls import reverse

from core.mail import email_message
from core.time_zones import zone_of
from handover.models import Handover


def _message(
    *, template: str, subject: str, context: dict[str, Any], zone_from: Any, to: list[str] | None = None,
    to_user: Any = None, link: str = "",
) -> EmailMultiAlternatives:
    """`to`: a customer's address; `to_user`: a staff member (who also sees it in their bell,
    opening `link`). `zone_from`: the user whose time zone the email's times are in (the
    recipient, or for a customer their delivery owner)."""
    return email_message(
        subject=subject, template=f"handover/email/{template}", to=to or [],
        users=[to_user] if to_user is not None else [], link=link, context=context, zone=zone_of(zone_from),
    )


def _page(handover: Handover) -> str:
    return reverse("handover:handover_detail", args=[handover.pk])


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
        to_user=to_user, link=_page(handover),
        context={"handover": handover, "user": to_user, "owner": handover.delivery_owner},
        zone_from=to_user,
    )


def back_notice(*, handover: Handover) -> EmailMultiAlternatives:
    return _message(
        template="back_notice",
        subject=f"Handover {handover.get_state_display().lower()}: {handover.deal.name}",
        to_user=handover.rep, link=_page(handover),
        context={"handover": handover},
        zone_from=handover.rep,
    )


def escalation(*, handover: Handover, to_user: Any) -> EmailMultiAlternatives:
    return _to_manager("escalation", "Overdue handover", handover=handover, to_user=to_user)


def review_request(*, handover: Handover, to_user: Any) -> EmailMultiAlternatives:
    """Tells a sales manager a rep submitted a handover for their review."""
    return _to_manager("review_request", "Review request", handover=handover, to_user=to_user)


def acceptance_request(*, handover: Handover, to_user: Any) -> EmailMultiAlternatives:
    """Tells a delivery manager a handover approved by sales waits for their acceptance."""
    return _to_manager("acceptance_request", "Acceptance request", handover=handover, to_user=to_user)


def _to_manager(template: str, what: str, *, handover: Handover, to_user: Any) -> EmailMultiAlternatives:
    """A manager's email about one handover: "<what>: <account> — <deal>", linking to its page,
    in the manager's time zone."""
    return _message(
        template=template,
        subject=f"{what}: {handover.account.name} — {handover.deal.name}",
        to_user=to_user, link=_page(handover),
        context={"handover": handover, "user": to_user},
        zone_from=to_user,
    )


def _phone(user: Any) -> str:
    profile = getattr(user, "profile", None)
    return getattr(profile, "phone", "") or ""
