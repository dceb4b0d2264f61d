"""Emails crm sends. Built here, sent by tasks, so a rolled-back transaction sends nothing."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.template.loader import render_to_string

from crm import notices
from crm.models import CustomerLink, Notice, OwnershipChange


def ownership_notice(*, to_user: Any, changes: list[OwnershipChange]) -> EmailMultiAlternatives:
    """Tells a new owner which accounts are now theirs, with each handover note."""
    context = {"user": to_user, "changes": changes, "site_url": settings.SITE_URL}
    count = len(changes)
    subject = (
        f"You now own {changes[0].account.name}" if count == 1 else f"You now own {count} more accounts"
    )
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("crm/email/ownership_notice.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to_user.email],
    )
    message.attach_alternative(render_to_string("crm/email/ownership_notice.html", context), "text/html")
    return message


@notices.register("crm.link_renewal")
def link_renewal_request(notice: Notice) -> list[EmailMessage]:
    """A customer whose link expired (or was replaced) asks its sender's successor for a new one."""
    link = CustomerLink.objects.select_related("account__owner", "contact").get(pk=notice.data["link"])
    owner = link.account.owner
    if not owner.email or not owner.is_active:
        return []
    who = link.contact.full_name if link.contact else "A customer"
    context = {"link": link, "owner": owner, "who": who, "site_url": settings.SITE_URL}
    return [
        EmailMultiAlternatives(
            subject=f"{who} at {link.account.name} asks for a new {link.get_purpose_display().lower()} link",
            body=render_to_string("crm/email/link_renewal.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[owner.email],
        )
    ]
