"""Who owns an account: the one writer of an account's owner (with its ledger row), and the
ways it changes: a reassignment, a whole book to a successor (with its preview), and the
handover to delivery."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from core.names import name_of
from crm import events, permissions
from crm.models import Account, AccountTeamMember, Deal, OwnershipChange
from crm.services.shared import require_assignable
from crm.services.team import team_member_join
from crm.signals import account_reassigned


@dataclass
class PlanRow:
    account_id: int
    account_name: str
    from_user_id: int
    to_user_id: int
    open_deals: int


@dataclass
class ReassignmentPlan:
    """What a book reassignment will do (the preview), or did (once applied)."""

    from_user: Any
    rows: list[PlanRow] = field(default_factory=list)
    other_open_deals: int = 0
    applied: bool = False
    changes: list[OwnershipChange] = field(default_factory=list)

    @property
    def account_count(self) -> int:
        return len(self.rows)

    @property
    def open_deal_count(self) -> int:
        return sum(r.open_deals for r in self.rows) + self.other_open_deals


def _owner_change(
    *, account: Account, to_user: Any, by: Any, reason: str, note: str, now: datetime,
    notified_at: datetime | None = None,
) -> OwnershipChange:
    """The one writer of an account's owner, whatever the reason (reassignment, departure,
    territory, handover to delivery): the owner's team seat, the account, the ledger row and
    its event, on a locked account."""
    from_user = account.owner
    AccountTeamMember.objects.current().filter(account=account, role=AccountTeamMember.Role.OWNER).update(ended_at=now)
    AccountTeamMember.objects.create(account=account, user=to_user, role=AccountTeamMember.Role.OWNER, started_at=now)
    account.owner = to_user
    account.save(update_fields=["owner", "updated_at"])
    change = OwnershipChange.objects.create(
        account=account, from_user=from_user, to_user=to_user, changed_at=now, reason=reason, note=note,
        assigned_by=by, notified_at=notified_at,
    )
    events.owner_changed_event(change=change, by=by)
    return change


def _transfer(
    *, account: Account, to_user: Any, by: Any, reason: str, note: str, now: datetime,
) -> OwnershipChange:
    """Reassigns one locked account: its owner, then the open deals the previous owner worked."""
    from_user = account.owner
    change = _owner_change(account=account, to_user=to_user, by=by, reason=reason, note=note, now=now)
    for deal in Deal.objects.open().filter(account=account, owner=from_user).select_related("account", "owner"):
        deal.owner = to_user
        deal.save(update_fields=["owner", "updated_at"])
        events.deal_owner_changed_event(deal=deal, by=by, from_user_id=from_user.pk)
    # Only for caches above crm (insights' dashboards): the open work that follows the new owner
    # (handovers, projects, check-ups) is moved by name in the flows layer.
    account_reassigned.send(sender=Account, account=account, from_user=from_user, to_user=to_user, by=by, change=change)
    return change


def account_hand_to_delivery(*, account: Account, to_user: Any, by: Any, note: str = "") -> OwnershipChange:
    """Called by the handover app inside its acceptance transaction (which has checked the
    permission): the delivery owner becomes the account's owner, the ledger says "handover to
    delivery", and the previous owner stays on the team as sales rep so the relationship keeps
    both. Open deals stay with their reps."""
    account = Account.objects.select_for_update().get(pk=account.pk)
    from_user = account.owner
    if from_user.pk == to_user.pk:
        raise ValidationError({"delivery_owner": "This person already owns the account."})
    now = timezone.now()
    change = _owner_change(
        account=account, to_user=to_user, by=by, reason=OwnershipChange.Reason.HANDOVER, note=note, now=now,
        notified_at=now,  # the handover's own acceptance email tells the delivery owner
    )
    if from_user.is_active:
        team_member_join(account=account, user=from_user, role=AccountTeamMember.Role.SALES_REP, by=by)
    return change


def _notify_new_owners(changes: list[OwnershipChange]) -> None:
    from crm.tasks import ownership_notice_owe

    by_owner: dict[int, list[int]] = defaultdict(list)
    for change in changes:
        by_owner[change.to_user_id].append(change.pk)
    for ids in by_owner.values():
        ownership_notice_owe(ids)


def _validate_reason(reason: str) -> None:
    if reason not in OwnershipChange.Reason.values or reason == OwnershipChange.Reason.NEW:
        raise ValidationError({"reason": "Choose reassignment, departure, territory or handover."})


@transaction.atomic
def account_reassign(
    *, account: Account, to_user: Any, by: Any, reason: str = OwnershipChange.Reason.REASSIGNMENT, note: str = "",
) -> OwnershipChange:
    permissions.require_can_reassign(by)
    _validate_reason(reason)
    require_assignable(to_user, "to_user")
    # Lock first, then read the owner: a concurrent reassignment has either committed (we see
    # its owner) or waits for us, so the ledger's from/to always chain. No join in the locking
    # query: after the wait PostgreSQL would re-check it against the old owner and find no row.
    account = Account.objects.select_for_update().get(pk=account.pk)
    if account.owner_id == to_user.pk:
        raise ValidationError({"to_user": f"{name_of(to_user)} already owns this account."})
    change = _transfer(account=account, to_user=to_user, by=by, reason=reason, note=note, now=timezone.now())
    _notify_new_owners([change])
    return change


def book_plan(*, from_user: Any, to_user: Any, assignments: dict[int, Any] | None = None) -> ReassignmentPlan:
    """The preview: which accounts go to whom, and how many open deals move with them."""
    assignments = assignments or {}
    accounts = (
        Account.objects.owned_by(from_user)
        .annotate(open_deals=Count("deals", filter=Q(deals__stage__in=Deal.OPEN_STAGES, deals__owner=from_user)))
        .order_by("name", "pk")
    )
    plan = ReassignmentPlan(from_user=from_user)
    for account in accounts:
        target = assignments.get(account.pk, to_user)
        plan.rows.append(PlanRow(account.pk, account.name, from_user.pk, target.pk, account.open_deals))
    plan.other_open_deals = Deal.objects.open().filter(owner=from_user).exclude(account__owner=from_user).count()
    return plan


@transaction.atomic
def book_reassign(
    *, from_user: Any, to_user: Any, by: Any, reason: str = OwnershipChange.Reason.DEPARTURE, note: str = "",
    assignments: dict[int, Any] | None = None, preview: bool = False,
) -> ReassignmentPlan:
    """Succession: a user's whole book to one successor (with per-account exceptions), in one
    transaction, one ledger row per account. `preview=True` returns the plan and writes nothing."""
    permissions.require_can_reassign(by)
    _validate_reason(reason)
    require_assignable(to_user, "to_user")
    assignments = assignments or {}
    for target in assignments.values():
        require_assignable(target, "assignments")
    if from_user.pk == to_user.pk:
        raise ValidationError({"to_user": "Choose someone other than the current owner."})
    owned = set(Account.objects.owned_by(from_user).values_list("pk", flat=True))
    stray = set(assignments) - owned
    if stray:
        raise ValidationError({"assignments": f"Not in this book: accounts {sorted(stray)}."})
    if any(t.pk == from_user.pk for t in assignments.values()):
        raise ValidationError({"assignments": "An account cannot go back to its current owner."})
    plan = book_plan(from_user=from_user, to_user=to_user, assignments=assignments)
    if preview:
        return plan
    now = timezone.now()
    # Lock in primary-key order so two bulk runs cannot deadlock each other.
    locked = list(Account.objects.select_for_update().filter(pk__in=owned).order_by("pk"))
    by_pk = {a.pk: a for a in Account.objects.filter(pk__in=[a.pk for a in locked]).select_related("owner")}
    targets = {a.pk: assignments.get(a.pk, to_user) for a in locked}
    for pk in sorted(by_pk):
        account = by_pk[pk]
        if account.owner_id != from_user.pk:  # moved by someone else since the preview
            continue
        plan.changes.append(
            _transfer(account=account, to_user=targets[pk], by=by, reason=reason, note=note, now=now)
        )
    # Open deals the departing user works on accounts owned by others follow the successor.
    for deal in Deal.objects.open().filter(owner=from_user).select_related("account", "owner"):
        deal.owner = to_user
        deal.save(update_fields=["owner", "updated_at"])
        team_member_join(account=deal.account, user=to_user, role=AccountTeamMember.Role.SALES_REP, by=by)
        events.deal_owner_changed_event(deal=deal, by=by, from_user_id=from_user.pk)
    if reason == OwnershipChange.Reason.DEPARTURE:
        _team_seats_hand_over(from_user=from_user, to_user=to_user, by=by, now=now)
    plan.applied = True
    _notify_new_owners(plan.changes)
    return plan


def _team_seats_hand_over(*, from_user: Any, to_user: Any, by: Any, now: datetime) -> None:
    """A departing user leaves every account team they are still on (effective-dated: the
    membership ends, its history stays), and the successor takes each seat, so the work that
    follows them (deals, check-ups) is on accounts they can open."""
    seats = (
        AccountTeamMember.objects.current().filter(user=from_user)
        .select_related("account").order_by("account_id", "pk")
    )
    for seat in seats:
        seat.ended_at = now
        seat.save(update_fields=["ended_at"])
        events.team_changed_event(
            account=seat.account, by=by,
            subject=f"{name_of(from_user)} left the team ({seat.get_role_display()}): departure",
            data={"user": from_user.pk, "role": seat.role, "change": "left", "reason": "departure"},
        )
        if seat.role != AccountTeamMember.Role.OWNER:  # ownership moves only through the ledger
            team_member_join(account=seat.account, user=to_user, role=seat.role, by=by)
