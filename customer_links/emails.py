"""Emails about customer links themselves (the links' own emails are built by the apps that issue
them, registered with `services.register_email`)."""

from __future__ import annotations

from django.core.mail import EmailMessage

from core.mail import email_message
from core.time_zones import zone_of
from customer_links.models import CustomerLink
from outbox import notices
from outbox.models import Notice


# The kind keeps the name it had in crm: notices already owed are stored under it.
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
