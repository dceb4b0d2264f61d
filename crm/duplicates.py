"""Telling that an account or a contact already exists, before it is created again: accounts by
the normalised name and web domain they are stored under (`crm.duplicate_keys`, indexed
columns kept by the services and the bulk seeders, so the check is an index lookup at a million
accounts), contacts by email, case aside (a functional index).

The candidates never reveal what the user may not see: visible matches come with their name and
link, the others only as a count the pages turn into "a similar account exists; ask a sales
manager" (templates/crm/_duplicates.html)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from crm import roles
from crm.duplicate_keys import domain_key, name_key
from crm.models import Account, Contact

CANDIDATES_SHOWN = 10


@dataclass
class Duplicates:
    """What a new account or contact resembles: the rows the user may see, and how many others."""

    visible: list[Any] = field(default_factory=list)
    hidden: int = 0

    def __bool__(self) -> bool:
        return bool(self.visible) or self.hidden > 0


def account_duplicates(*, user: Any, name: str = "", website: str = "", exclude: Any = None) -> Duplicates:
    """Accounts, archived ones included (restore rather than recreate), whose name key or
    domain key matches; merged tombstones are left out (their survivor matches instead)."""
    keys = Q()
    if key := name_key(name):
        keys |= Q(name_key=key)
    if key := domain_key(website):
        keys |= Q(domain_key=key)  # PostgreSQL uses the partial index account_domain_key
    if not keys:
        return Duplicates()
    matches = Account.objects.filter(keys, merged_into__isnull=True)
    if exclude is not None:
        matches = matches.exclude(pk=exclude)
    visible = list(
        matches.visible_to(user).select_related("owner").order_by("name", "pk")[:CANDIDATES_SHOWN]
    )
    hidden = 0 if _sees_all(user) else matches.exclude(pk__in=matches.visible_to(user).values("pk")).count()
    return Duplicates(visible=visible, hidden=hidden)


def contact_duplicates(*, user: Any, email: str, exclude: Any = None) -> Duplicates:
    """Contacts (not merged away) with the same email, case aside, on any account."""
    email = (email or "").strip()
    if not email:
        return Duplicates()
    matches = Contact.objects.filter(email__iexact=email, merged_into__isnull=True)
    if exclude is not None:
        matches = matches.exclude(pk=exclude)
    visible = list(
        matches.visible_to(user).select_related("account").order_by("account__name", "pk")[:CANDIDATES_SHOWN]
    )
    hidden = 0 if _sees_all(user) else matches.exclude(pk__in=matches.visible_to(user).values("pk")).count()
    return Duplicates(visible=visible, hidden=hidden)


def _sees_all(user: Any) -> bool:
    return roles.sees_all_accounts(user)
