"""The one customer-link mechanism (sign-off, survey, portal): issue, check, use, revoke.

Django's password-reset pattern, with the token kept server-side as a hash: 32 random bytes
(256 bits) go into the email only; the database keeps their SHA-256, so a leaked table reveals
no live link. A link is checked on every request against its purpose, its target, its expiry,
its revocation and its single use; `link_use` is a conditional UPDATE, so two concurrent
POSTs cannot both use one link.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from crm.models import Account, Contact
from customer_links.models import CustomerLink

# How each purpose's link is emailed: the app that issues it registers a builder
# (link, url) -> EmailMessage; the outbox notice "customer_links.email" sends it once.
EmailBuilder = Callable[[CustomerLink, str], EmailMessage]
_email_builders: dict[str, EmailBuilder] = {}
_landing_urls: dict[str, str] = {}


def register_email(purpose: str, *, landing: str) -> Callable[[EmailBuilder], EmailBuilder]:
    """`landing` is the URL name of the view that takes the token (e.g. "delivery:signoff_open")."""

    def decorate(builder: EmailBuilder) -> EmailBuilder:
        _email_builders[purpose] = builder
        _landing_urls[purpose] = landing
        return builder

    return decorate


def link_url(link: CustomerLink, raw: str) -> str:
    return settings.SITE_URL + reverse(_landing_urls[link.purpose], args=[raw])


def link_email(link: CustomerLink, raw: str) -> EmailMessage:
    return _email_builders[link.purpose](link, link_url(link, raw))


def link_mint(link_id: int) -> str | None:
    """A fresh token for a link not yet emailed, revoked or used (its email's `prepare` step:
    the raw token is made when the email is sent, never stored or queued); None when it is none
    of those any more. The email's send shares the transaction: a failed send rolls it back."""
    raw = secrets.token_urlsafe(32)
    minted = CustomerLink.objects.filter(
        pk=link_id, emailed_at__isnull=True, email_failed_at__isnull=True, revoked_at__isnull=True,
        used_at__isnull=True,
    ).update(token_hash=token_hash(raw))
    return raw if minted else None


def link_mark_emailed(link_id: int, *, at: Any) -> int:
    """The link's email went out at `at` (written by the send that sent it)."""
    return CustomerLink.objects.filter(pk=link_id, emailed_at__isnull=True).update(emailed_at=at)


def link_mark_email_failed(link_id: int, *, at: Any, error: str) -> int:
    """The link's email could not be sent and will not be retried: staff see why and send a new link."""
    return CustomerLink.objects.filter(pk=link_id, emailed_at__isnull=True).update(
        email_failed_at=at, email_error=error
    )


# Why a link does not work, each with its own page for the customer.
INVALID = "invalid"
WRONG_PURPOSE = "wrong_purpose"
WRONG_TARGET = "wrong_target"
EXPIRED = "expired"
REVOKED = "revoked"
USED = "used"


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


@transaction.atomic
def link_issue(
    *,
    purpose: str,
    account: Account,
    target: Any,
    contact: Contact | None,
    by: Any,
    valid_for: timedelta,
    reusable: bool = False,
) -> tuple[CustomerLink, str]:
    """A new link, returning the row and the raw token (to put in the email, nowhere else).
    The live link for the same purpose and target is revoked first."""
    target_key = target if isinstance(target, str) else CustomerLink.target_of(target)
    now = timezone.now()
    link_revoke_live(purpose=purpose, target=target_key, now=now)
    raw = secrets.token_urlsafe(32)
    link = CustomerLink.objects.create(
        purpose=purpose,
        account=account,
        contact=contact,
        target=target_key,
        token_hash=token_hash(raw),
        reusable=reusable,
        created_by=by if getattr(by, "pk", None) else None,
        created_at=now,
        expires_at=now + valid_for,
    )
    return link, raw


def link_revoke_live(*, purpose: str, target: str, now: Any = None) -> int:
    return CustomerLink.objects.filter(
        purpose=purpose, target=target, revoked_at__isnull=True, used_at__isnull=True
    ).update(revoked_at=now or timezone.now())


def link_find(raw: str) -> CustomerLink | None:
    if not raw or len(raw) > 200:
        return None
    return (
        CustomerLink.objects.select_related("account", "contact", "account__owner")
        .filter(token_hash=token_hash(raw))
        .first()
    )


@dataclass(frozen=True)
class LinkCheck:
    link: CustomerLink | None
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def link_check(link: CustomerLink | None, *, purpose: str, target: Any = None) -> LinkCheck:
    """Whether `link` may act now for `purpose` (and on `target`, when given)."""
    if link is None:
        return LinkCheck(None, INVALID)
    if link.purpose != purpose:
        return LinkCheck(link, WRONG_PURPOSE)
    if target is not None:
        target_key = target if isinstance(target, str) else CustomerLink.target_of(target)
        if link.target != target_key:
            return LinkCheck(link, WRONG_TARGET)
    if link.used_at is not None:
        return LinkCheck(link, USED)
    if link.revoked_at is not None:
        return LinkCheck(link, REVOKED)
    if link.expires_at <= timezone.now():
        return LinkCheck(link, EXPIRED)
    return LinkCheck(link, None)


def link_use(link: CustomerLink) -> bool:
    """Marks a single-use link used; False when another request used (or revoked) it first.
    Call inside the transaction that does what the link is for, so they commit together."""
    if link.reusable:
        return True
    now = timezone.now()
    used = CustomerLink.objects.filter(
        pk=link.pk, used_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now
    ).update(used_at=now)
    if used:
        link.used_at = now
    return bool(used)


def link_request_renewal(link: CustomerLink) -> bool:
    """The customer asks for a fresh link; True only the first time (one note per link)."""
    return bool(
        CustomerLink.objects.filter(pk=link.pk, renewal_requested_at__isnull=True).update(
            renewal_requested_at=timezone.now()
        )
    )


def links_revoke_for_contact(contact: Contact) -> int:
    """A contact who left or asked not to be contacted keeps no live link."""
    return CustomerLink.objects.filter(contact=contact, revoked_at__isnull=True, used_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def links_move_to_account(*, from_account: Account, to_account: Account) -> int:
    """A merge (flows.account_merge): the merged account's links go to the survivor, so a
    sign-off or survey link already emailed still works (its target, a stage or a check-up,
    moves too); its live portal links are revoked, since their target is the tombstone: the
    survivor's portal link is the one to send. Returns the portal links revoked."""
    revoked = link_revoke_live(purpose=CustomerLink.Purpose.PORTAL, target=CustomerLink.target_of(from_account))
    CustomerLink.objects.filter(account=from_account).update(account=to_account)
    return revoked


def links_move_to_contact(*, from_contact: Contact, to_contact: Contact) -> int:
    """A merge of contacts (flows.contact_merge): the links emailed to the merged contact name
    the survivor (the same person); they stay live."""
    return CustomerLink.objects.filter(contact=from_contact).update(contact=to_contact)
