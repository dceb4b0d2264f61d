"""The customer link's own notices: its email, and a customer's request for a fresh one. (What a
link's email says is built by the app that issues the link, registered with
`services.register_email`.)"""

from __future__ import annotations

from typing import Any

from django.core.mail import EmailMessage
from django.urls import reverse
from django.utils import timezone

from core.mail import email_message
from core.time_zones import zone_of
from crm.models import Account
from customer_links import services as links
from customer_links.models import CustomerLink
from outbox import notices
from outbox.models import Notice

LINK_EMAIL = "customer_links.email"


def link_email_key(link_id: int) -> str:
    return f"{LINK_EMAIL}:{link_id}"


def mint_token(notice: Notice) -> dict[str, Any] | None:
    """Prepare: the link's token is made now, in the send's transaction, and goes into the email
    only; None (nothing to send) once the link was revoked or used."""
    link_id = notices.target_pk(notice.target)
    # The account's row first, then the link's: every writer of an account's links takes the
    # account's lock first (a new portal link revokes the live one under it), so a send and a
    # new link wait for each other in the same order instead of deadlocking at commit, where
    # PostgreSQL checks the twice-updated link's foreign key to the account.
    account_id = CustomerLink.objects.filter(pk=link_id).values_list("account_id", flat=True).first()
    if account_id is None:
        return None
    Account.objects.select_for_update().filter(pk=account_id).values_list("pk").first()
    raw = links.link_mint(link_id)
    if raw is None:
        return None
    link = CustomerLink.objects.select_related("account__owner__profile", "contact").get(pk=link_id)
    return {"link": link, "raw": raw}


def record_link_email(notice: Notice) -> None:
    """What the staff pages, the API and the admin read about the link's email."""
    link_id = notices.target_pk(notice.target)
    if notice.state == Notice.State.SENT:
        links.link_mark_emailed(link_id, at=notice.sent_at)
    elif notice.state == Notice.State.FAILED:
        links.link_mark_email_failed(link_id, at=timezone.now(), error=notice.last_error)


@notices.register(LINK_EMAIL, prepare=mint_token, outcome=record_link_email)
def link_email(notice: Notice, *, link: CustomerLink, raw: str) -> list[EmailMessage]:
    """A new customer link, to its contact."""
    return [links.link_email(link, raw)]


# The kind keeps the name it had in crm: notices already owed are stored under it.
@notices.register("crm.link_renewal", topic="customer_answers")
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
            template="crm/email/link_renewal", users=[owner],
            link=reverse("crm:account_detail", args=[link.account_id]),
            context={"link": link, "owner": owner, "who": who}, zone=zone_of(owner),
        )
    ]
