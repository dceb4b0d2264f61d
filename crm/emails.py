"""Emails crm sends. Built here, sent by tasks, so a rolled-back transaction sends nothing."""

from __future__ import annotations

from typing import Any

from django.core.mail import EmailMessage, EmailMultiAlternatives

from crm import notices
from crm.mail import email_message, zone_of
from crm.models import CustomerLink, Notice, OwnershipChange


def ownership_notice(*, to_user: Any, changes: list[OwnershipChange]) -> EmailMultiAlternatives:
    """Tells a new owner which accounts are now theirs, with each handover note."""
    count = len(changes)
    subject = (
        f"You now own {changes[0].account.name}" if count == 1 else f"You now own {count} more accounts"
    )
    return email_message(
        subject=subject, template="crm/email/ownership_notice", to=[to_user.email],
        context={"user": to_user, "changes": changes}, zone=zone_of(to_user), html=True,
    )


@notices.register("crm.link_renewal")
def link_renewal_request(notice: Notice) -> list[EmailMessage]:
    """A customer whose link expired (or was replaced) asks its sender's successor for a new one."""
    link = CustomerLink.objects.select_related("account__owner__profile", "contact").get(pk=notice.data["link"])
    owner = link.account.owner
    if not owner.email or not owner.is_active:
        return []
    who = link.contact.full_name if link.contact else "A customer"
    return [
        email_message(
            subject=f"{who} at {link.account.name} asks for a new {link.get_purpose_display().lower()} link",
            template="crm/email/link_renewal", to=[owner.email],
            context={"link": link, "owner": owner, "who": who}, zone=zone_of(owner),
        )
    ]
