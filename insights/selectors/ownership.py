"""The reassignment dashboard: who owns what today, what is left with people who have gone, and
how ownership moved in the period.

- accounts per owner: every account by its current owner;
- orphans: accounts whose owner is inactive (zero once every departure is handled);
- single-threaded customers: accounts in a customer lifecycle (customer, onboarding, active)
  with at most one active customer contact, or nobody on the account team but the owner;
- ownership changes: the ledger's changes in the period (account creations aside) by reason,
  latest first; with a team filter, those from or to a member of the team.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q

from core.counting import COUNT_CAP, capped_count
from crm.models import Account, AccountTeamMember, Contact, OwnershipChange
from insights import permissions
from insights.selectors.shared import LIST_LIMIT, Period, User, display_name, team_member_ids

CUSTOMER_LIFECYCLES = [Account.Lifecycle.CUSTOMER, Account.Lifecycle.ONBOARDING, Account.Lifecycle.ACTIVE]


@dataclass
class OwnerRow:
    owner_id: int
    name: str
    is_active: bool
    accounts: int


@dataclass
class AccountRow:
    account_id: int
    name: str
    owner_id: int
    owner: str
    owner_active: bool = True
    contacts: int | None = None
    vendor_people: int | None = None


@dataclass
class ChangeRow:
    changed_at: datetime
    account_id: int
    account: str
    from_user: str
    to_user: str
    reason: str
    reason_label: str
    note: str
    assigned_by: str


@dataclass
class Reassignment:
    period: Period
    team: int | None
    owners: list[OwnerRow]
    orphan_count: int
    orphan_owners: list[OwnerRow]
    orphans: list[AccountRow]
    single_threaded_count: int  # COUNT_CAP + 1 means "more than COUNT_CAP"
    single_threaded: list[AccountRow]
    changes_by_reason: dict[str, int]
    change_count: int
    changes: list[ChangeRow]

    @property
    def single_threaded_more(self) -> bool:
        """More single-threaded customers than were counted (the count stops past COUNT_CAP)."""
        return self.single_threaded_count > COUNT_CAP


def reassignment(*, period: Period, team: int | None, viewer: Any) -> Reassignment:
    """Accounts per owner; orphans (accounts whose owner is inactive: zero once every
    departure is handled); single-threaded customers (lifecycle customer, onboarding or active);
    ownership changes in the period (account creations aside) by reason, latest first."""
    permissions.require_dashboards(viewer)
    members = team_member_ids(team)
    accounts = Account.objects.all() if members is None else Account.objects.filter(owner__in=members)
    # COUNT(*) grouped by owner alone is an index-only scan of the owner index; names come after.
    counts = {r["owner"]: r["n"] for r in accounts.order_by().values("owner").annotate(n=Count("*"))}
    users = User.objects.filter(pk__in=list(counts)).only("first_name", "last_name", "username", "is_active")
    owners = [OwnerRow(u.pk, display_name(u), u.is_active, counts[u.pk]) for u in users]
    owners.sort(key=lambda o: (-o.accounts, o.name.lower(), o.owner_id))
    orphan_owners = [o for o in owners if not o.is_active]
    names = {o.owner_id: o.name for o in orphan_owners}
    orphans = [
        AccountRow(a.pk, a.name, a.owner_id, names[a.owner_id], owner_active=False)
        for a in Account.objects.filter(owner_id__in=list(names)).only("name", "owner_id").order_by("name", "pk")[
            :LIST_LIMIT
        ]
    ] if names else []
    customers = accounts.filter(single_threaded(), lifecycle__in=CUSTOMER_LIFECYCLES)
    single_accounts: list[Any] = list(
        customers.with_thread_counts().select_related("owner").order_by("name", "pk")[:LIST_LIMIT]
    )
    single = [
        AccountRow(a.pk, a.name, a.owner_id, display_name(a.owner), a.owner.is_active,
                   a.active_contact_count, a.vendor_people_count)
        for a in single_accounts
    ]
    # Counted up to COUNT_CAP, like every list (core.counting): each account costs two index lookups.
    single_count = len(single) if len(single) < LIST_LIMIT else capped_count(customers)
    changes = OwnershipChange.objects.filter(period.q("changed_at")).exclude(reason=OwnershipChange.Reason.NEW)
    if members is not None:
        changes = changes.filter(Q(from_user__in=members) | Q(to_user__in=members))
    by_reason = {
        r["reason"]: r["n"] for r in changes.order_by().values("reason").annotate(n=Count("pk")).order_by("reason")
    }
    labels = dict(OwnershipChange.Reason.choices)
    change_rows = [
        ChangeRow(c.changed_at, c.account_id, c.account.name, display_name(c.from_user), display_name(c.to_user),
                  c.reason, labels[c.reason], c.note, display_name(c.assigned_by) if c.assigned_by_id else "")
        for c in changes.select_related("account", "from_user", "to_user", "assigned_by").order_by(
            "-changed_at", "-pk"
        )[:LIST_LIMIT]
    ]
    return Reassignment(
        period=period, team=team, owners=owners, orphan_count=sum(o.accounts for o in orphan_owners),
        orphan_owners=orphan_owners, orphans=orphans, single_threaded_count=single_count, single_threaded=single,
        changes_by_reason=by_reason, change_count=sum(by_reason.values()), changes=change_rows,
    )


def single_threaded() -> Q:
    """crm's single thread (at most one active customer contact, or at most one vendor person on
    the account team) as two NOT EXISTS: each stops at the first row that disproves it, where
    counting every account's contacts and team made PostgreSQL plan (and JIT-compile) a scan
    of the whole table. The owner is always on the team (crm's services keep an owner row), so
    "one vendor person" is "nobody on the team but the owner"."""
    second_contact = Contact.objects.filter(account=OuterRef("pk"), is_active=True).order_by()[1:2]
    someone_else = AccountTeamMember.objects.current().filter(account=OuterRef("pk")).exclude(user=OuterRef("owner"))
    return ~Exists(second_contact) | ~Exists(someone_else.order_by()[:1])
