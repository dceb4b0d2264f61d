"""The write path for crm: every view, API view, admin action, command and task calls these.

Each service is keyword-only, atomic, locks what it changes, checks permission, validates
(django ValidationError with field names), writes the event row, and defers side effects
(emails, tasks) to `transaction.on_commit`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone
from django.utils.translation import ngettext
from django_fsm import TransitionNotAllowed
from rest_framework.authtoken.models import Token

from core.exceptions import Conflict
from core.names import name_of
from core.validation import validate_model
from crm import events, permissions, roles, time_zones
from crm.models import (
    Account,
    AccountTeamMember,
    Activity,
    Contact,
    Deal,
    DealLineItem,
    LoginSession,
    OwnershipChange,
    PipelineTotal,
    UserProfile,
)
from crm.signals import account_reassigned, contact_address_lapsed

User = get_user_model()

# What the account form and API edit. The lifecycle is not among them: it changes only through
# account_lifecycle_change, which records the change (a new account may start at any stage).
ACCOUNT_FIELDS = ("name", "website", "industry", "city", "country", "notes")
ACCOUNT_CREATE_FIELDS = (*ACCOUNT_FIELDS, "lifecycle")
CONTACT_FIELDS = (
    "first_name", "last_name", "title", "role", "email", "phone", "preferred_channel", "best_time",
    "do_not_contact", "is_primary", "is_active", "left_at",
)
DEAL_FIELDS = ("name", "value", "currency", "expected_close_date")
TEAM_ROLES_ADDABLE = [r for r in AccountTeamMember.Role.values if r != AccountTeamMember.Role.OWNER]


def _changes(instance: Any, data: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    unknown = set(data) - set(allowed)
    if unknown:
        raise ValidationError({name: "This field cannot be changed here." for name in sorted(unknown)})
    changed: dict[str, Any] = {}
    for name, value in data.items():
        old = getattr(instance, name)
        if old != value:
            changed[name] = {"from": _jsonable(old), "to": _jsonable(value)}
            setattr(instance, name, value)
    return changed


def _jsonable(value: Any) -> Any:
    if isinstance(value, (Decimal, datetime)) or hasattr(value, "isoformat"):
        return str(value)
    return value


def _require_assignable(user: Any, field_name: str) -> None:
    """A new owner must be an active vendor person with a role."""
    if user is None or not user.is_active or not roles.role_names(user):
        raise ValidationError({field_name: "Choose an active team member with a role."})


# --- Accounts -------------------------------------------------------------------------------


@transaction.atomic
def account_create(*, by: Any, name: str, owner: Any = None, **fields: Any) -> Account:
    permissions.require_can_create_account(by)
    owner = owner or by
    _require_assignable(owner, "owner")
    unknown = set(fields) - set(ACCOUNT_CREATE_FIELDS)
    if unknown:
        raise ValidationError({n: "Unknown field." for n in sorted(unknown)})
    account = Account(name=name, owner=owner, **fields)
    validate_model(account)
    account.save()
    now = timezone.now()
    AccountTeamMember.objects.create(account=account, user=owner, role=AccountTeamMember.Role.OWNER, started_at=now)
    if owner != by and roles.can_sell(by) and not roles.sees_all_accounts(by):
        # A rep creating an account for someone else stays on it as a sales rep.
        AccountTeamMember.objects.create(account=account, user=by, role=AccountTeamMember.Role.SALES_REP)
    change = OwnershipChange.objects.create(
        account=account, from_user=None, to_user=owner, changed_at=now,
        reason=OwnershipChange.Reason.NEW, assigned_by=by,
    )
    events.account_created_event(account=account, by=by)
    events.owner_changed_event(change=change, by=by)
    return account


@transaction.atomic
def account_update(*, account: Account, by: Any, lifecycle: str | None = None, **data: Any) -> Account:
    """Edits the account's details; a `lifecycle` given here goes through account_lifecycle_change."""
    account = Account.objects.select_for_update().get(pk=account.pk)
    permissions.require_can_edit_account(by, account)
    changed = _changes(account, data, ACCOUNT_FIELDS)
    if changed:
        validate_model(account)
        account.save()
        events.account_updated_event(account=account, by=by, changed=changed)
    if lifecycle is not None:
        account_lifecycle_change(account=account, to=lifecycle, by=by)
    return account


def account_lifecycle_change(
    *, account: Account, to: str, by: Any, only_from: tuple[str, ...] | None = None,
) -> bool:
    """The one writer of an account's lifecycle (prospect, customer, onboarding, active, ...),
    with its event row. `only_from`: move only an account at one of these stages (winning a
    deal makes a prospect a customer, never an active customer one again). Runs in the
    caller's transaction, whose service has checked the permission. Returns whether it moved."""
    account = Account.objects.select_for_update().get(pk=account.pk)
    try:
        Account._meta.get_field("lifecycle").clean(to, account)
    except ValidationError as exc:
        raise ValidationError({"lifecycle": exc.messages}) from None
    from_stage = account.lifecycle
    if from_stage == to or (only_from is not None and from_stage not in only_from):
        return False
    account.lifecycle = to
    account.save(update_fields=["lifecycle", "updated_at"])
    events.lifecycle_changed_event(account=account, by=by, from_stage=from_stage)
    return True


# --- Contacts -------------------------------------------------------------------------------


def _contact_rules(contact: Contact) -> None:
    if not contact.is_active and contact.left_at is None:
        contact.left_at = timezone.localdate()
    if contact.is_active:
        contact.left_at = None
    if contact.is_primary and not contact.is_active:
        raise ValidationError({"is_primary": "A contact who has left cannot be the primary contact."})


@transaction.atomic
def contact_create(*, account: Account, by: Any, first_name: str, **fields: Any) -> Contact:
    account = Account.objects.select_for_update().get(pk=account.pk)
    permissions.require_can_edit_account(by, account)
    unknown = set(fields) - set(CONTACT_FIELDS)
    if unknown:
        raise ValidationError({n: "Unknown field." for n in sorted(unknown)})
    contact = Contact(account=account, first_name=first_name, **fields)
    _contact_rules(contact)
    validate_model(contact)
    if not account.contacts.filter(is_primary=True).exists() and contact.is_active:
        contact.is_primary = True  # the first active contact is the primary one until changed
    if contact.is_primary:
        account.contacts.filter(is_primary=True).update(is_primary=False)
    contact.save()
    events.contact_event(
        account=account, by=by, event_type="contact.added",
        subject=f"Contact {contact.full_name} added ({contact.get_role_display()})",
        changed={"contact": contact.pk},
    )
    return contact


@transaction.atomic
def contact_update(*, contact: Contact, by: Any, **data: Any) -> Contact:
    Account.objects.select_for_update().get(pk=contact.account_id)
    contact = Contact.objects.select_related("account").get(pk=contact.pk)
    permissions.require_can_edit_account(by, contact.account)
    was_active = contact.is_active
    changed = _changes(contact, data, CONTACT_FIELDS)
    if not changed:
        return contact
    _contact_rules(contact)
    validate_model(contact)
    if contact.is_primary:
        contact.account.contacts.exclude(pk=contact.pk).filter(is_primary=True).update(is_primary=False)
    contact.save()
    if not contact.is_active or contact.do_not_contact or "email" in changed:
        # Someone who left, asked not to be contacted or changed address keeps no live link.
        contact_address_lapsed.send(sender=Contact, contact=contact)
    if was_active and not contact.is_active:
        subject = f"{contact.full_name} left the organisation"
    else:
        subject = f"Contact {contact.full_name} updated"
    events.contact_event(
        account=contact.account, by=by, event_type="contact.updated", subject=subject,
        changed={"contact": contact.pk, "changed": changed},
    )
    return contact


# --- Account team ---------------------------------------------------------------------------


@transaction.atomic
def team_member_add(*, account: Account, by: Any, user: Any, role: str) -> AccountTeamMember:
    """Someone managing the team adds a person to it (a second seat with the same role is refused)."""
    account = Account.objects.select_for_update().get(pk=account.pk)
    permissions.require_can_manage_team(by, account)
    if role not in TEAM_ROLES_ADDABLE:
        raise ValidationError({"role": "Choose a team role; the owner changes only by reassignment."})
    _require_assignable(user, "user")
    if AccountTeamMember.objects.current().filter(account=account, user=user, role=role).exists():
        raise ValidationError({"user": "This person already has that role on the account."})
    return team_member_join(account=account, user=user, role=role, by=by)


def team_member_join(*, account: Account, user: Any, role: str, by: Any) -> AccountTeamMember:
    """The one writer of a new team seat, with its event. Other services call it directly (a
    delivery owner named at handover, a successor taking a seat) once they have checked the
    permission themselves; someone already seated with that role keeps their seat."""
    existing = AccountTeamMember.objects.current().filter(account=account, user=user, role=role).first()
    if existing:
        return existing
    member = AccountTeamMember.objects.create(account=account, user=user, role=role)
    events.team_changed_event(
        account=account, by=by, subject=f"{name_of(user)} joined the team as {member.get_role_display()}",
        data={"user": user.pk, "role": role, "change": "joined"},
    )
    return member


@transaction.atomic
def team_member_end(*, member: AccountTeamMember, by: Any) -> AccountTeamMember:
    Account.objects.select_for_update().get(pk=member.account_id)
    member = AccountTeamMember.objects.select_related("account", "user").get(pk=member.pk)
    permissions.require_can_manage_team(by, member.account)
    if member.ended_at is not None:
        raise Conflict("This person has already left the account team.")
    if member.role == AccountTeamMember.Role.OWNER:
        raise ValidationError({"role": "The owner leaves the team only by reassignment."})
    member.ended_at = timezone.now()
    member.save(update_fields=["ended_at"])
    events.team_changed_event(
        account=member.account, by=by,
        subject=f"{name_of(member.user)} left the team ({member.get_role_display()})",
        data={"user": member.user_id, "role": member.role, "change": "left"},
    )
    return member


# --- Deals ----------------------------------------------------------------------------------


def _set_line_items(deal: Deal, line_items: list[dict[str, Any]]) -> None:
    items = []
    errors: dict[str, Any] = {}
    for index, data in enumerate(line_items):
        fields = {k: v for k, v in data.items() if k in ("kind", "name", "quantity", "unit_price")}
        item = DealLineItem(deal=deal, **fields)
        try:
            item.full_clean(exclude=["deal"], validate_constraints=False)
        except ValidationError as exc:
            errors[f"line_items[{index}]"] = exc.message_dict
        items.append(item)
    if errors:
        raise ValidationError({"line_items": [str(errors)]})
    deal.line_items.all().delete()
    DealLineItem.objects.bulk_create(items)


@transaction.atomic
def deal_create(
    *, account: Account, by: Any, name: str, owner: Any = None,
    line_items: list[dict[str, Any]] | None = None, **fields: Any,
) -> Deal:
    account = Account.objects.select_for_update().get(pk=account.pk)
    permissions.require_can_sell_on(by, account)
    unknown = set(fields) - set(DEAL_FIELDS)
    if unknown:
        raise ValidationError({n: "Unknown field." for n in sorted(unknown)})
    owner = _deal_owner(account=account, by=by, owner=owner)
    deal = Deal(account=account, name=name, owner=owner, **fields)
    validate_model(deal)
    deal.save()
    _pipeline_add(stage=deal.stage, currency=deal.currency, count=1, value=Decimal(deal.value))
    if line_items:
        _set_line_items(deal, line_items)
    events.deal_created_event(deal=deal, by=by)
    return deal


def _deal_owner(*, account: Account, by: Any, owner: Any) -> Any:
    """Who works a new deal. As with a reassignment, choosing someone else is a sales manager's
    decision, and the owner must be able to work the account's deals: winning credits them and
    drafts a handover they must be able to open."""
    if owner is None:
        if roles.has_role(by, roles.SALES_REP, roles.PRESALES):
            return by
        # A manager's deal goes to the account owner when they sell; after the handover the
        # owner is a delivery person, and the manager keeps the deal.
        current = account.owner
        return current if current.is_active and permissions.can_sell_on(current, account) else by
    if owner.pk != by.pk and not roles.can_reassign(by):
        raise PermissionDenied(
            "owner: only sales managers and administrators open a deal for someone else; leave it empty to own it.",
        )
    _require_assignable(owner, "owner")
    if not permissions.can_sell_on(owner, account):
        raise ValidationError({
            "owner": f"{name_of(owner)} cannot work this account's deals: "
            "choose a sales manager or someone on the account's sales team.",
        })
    return owner


def _pipeline_add(*, stage: str, currency: str, count: int, value: Decimal) -> None:
    """Adds to the pipeline totals in the caller's transaction (an increment, so concurrent
    deal changes never overwrite each other's figures)."""
    if not count and not value:
        return
    changes = {"deal_count": F("deal_count") + count, "value_total": F("value_total") + value}
    if PipelineTotal.objects.filter(stage=stage, currency=currency).update(**changes):
        return
    try:
        with transaction.atomic():
            PipelineTotal.objects.create(stage=stage, currency=currency, deal_count=count, value_total=value)
    except IntegrityError:  # created meanwhile by a concurrent transaction
        PipelineTotal.objects.filter(stage=stage, currency=currency).update(**changes)


def _pipeline_move(*, deal: Deal, from_stage: str, from_currency: str, from_value: Decimal) -> None:
    _pipeline_add(stage=from_stage, currency=from_currency, count=-1, value=-Decimal(from_value))
    _pipeline_add(stage=deal.stage, currency=deal.currency, count=1, value=Decimal(deal.value))


@transaction.atomic
def pipeline_totals_rebuild() -> int:
    """Recomputes the pipeline totals from the deals (after bulk loads, or as maintenance)."""
    PipelineTotal.objects.all().delete()
    rows = (
        Deal.objects.order_by().values("stage", "currency").annotate(n=Count("pk"), total=Sum("value"))
    )
    PipelineTotal.objects.bulk_create(
        PipelineTotal(stage=r["stage"], currency=r["currency"], deal_count=r["n"], value_total=r["total"] or 0)
        for r in rows
    )
    return PipelineTotal.objects.count()


def _lock_deal(deal: Deal) -> Deal:
    """Locks the deal's account, then the deal, then reads the deal with its account and owner.

    Account before deal is the order reassignment takes too, so the two cannot deadlock. The
    locking queries join nothing: PostgreSQL re-checks a row it waited for against the joined
    rows it read before the wait, so a locking join on an owner that just changed finds no row.
    """
    Account.objects.select_for_update().filter(pk=deal.account_id).values_list("pk").get()
    Deal.objects.select_for_update().filter(pk=deal.pk).values_list("pk").get()
    return Deal.objects.select_related("account", "owner").get(pk=deal.pk)


@transaction.atomic
def deal_update(*, deal: Deal, by: Any, line_items: list[dict[str, Any]] | None = None, **data: Any) -> Deal:
    deal = _lock_deal(deal)
    permissions.require_can_sell_on(by, deal.account)
    if not deal.is_open:
        raise Conflict("A closed deal cannot be edited.")
    before = (deal.stage, deal.currency, deal.value)
    changed = _changes(deal, data, DEAL_FIELDS)
    validate_model(deal)
    deal.save()
    _pipeline_move(deal=deal, from_stage=before[0], from_currency=before[1], from_value=before[2])
    # The edit form posts every line item back: the same items are no change (and keep their rows).
    if line_items is not None and not _same_line_items(line_items, deal.line_items.order_by("pk").values()):
        _set_line_items(deal, line_items)
        changed["line_items"] = len(line_items)
    if changed:
        events.deal_updated_event(deal=deal, by=by, changed=changed)
    return deal


def _same_line_items(posted: list[dict[str, Any]], current: Any) -> bool:
    """Whether `posted` are the deal's line items as they are, in their order. Quantities and
    prices compare as decimals, whether they come from a form (Decimal) or the API (text); what
    does not read as one is a change, for _set_line_items to refuse with its message."""

    def rows(items: Any) -> list[tuple[Any, ...]] | None:
        try:
            return [
                (item.get("kind") or DealLineItem.Kind.PRODUCT, item.get("name"),
                 Decimal(str(item.get("quantity"))), Decimal(str(item.get("unit_price"))))
                for item in items
            ]
        except ArithmeticError:
            return None

    mine = rows(posted)
    return mine is not None and mine == rows(current)


def _transition(deal: Deal, action: Any, **kwargs: Any) -> None:
    try:
        action(**kwargs)
    except TransitionNotAllowed as exc:
        stage = deal.get_stage_display().lower()
        raise Conflict(str(exc) or f"This deal is {stage}; that move is not possible.") from None


@transaction.atomic
def deal_move(*, deal: Deal, by: Any, to: str) -> Deal:
    deal = _lock_deal(deal)
    permissions.require_can_sell_on(by, deal.account)
    if to not in Deal.Stage.values:
        raise ValidationError({"stage": f"Unknown stage {to!r}."})
    from_stage = deal.stage
    _transition(deal, deal.move, to=to)
    deal.save()
    _pipeline_move(deal=deal, from_stage=from_stage, from_currency=deal.currency, from_value=deal.value)
    events.deal_stage_changed_event(deal=deal, by=by, from_stage=from_stage)
    return deal


@transaction.atomic
def deal_win(*, deal: Deal, by: Any) -> Deal:
    deal = _lock_deal(deal)
    permissions.require_can_sell_on(by, deal.account)
    from_stage = deal.stage
    # Attribution is frozen now: the rep working the deal sold it, even when a manager records it.
    _transition(deal, deal.win, by=deal.owner)
    deal.save()
    _pipeline_move(deal=deal, from_stage=from_stage, from_currency=deal.currency, from_value=deal.value)
    events.deal_stage_changed_event(deal=deal, by=by, from_stage=from_stage)
    account_lifecycle_change(
        account=deal.account, to=Account.Lifecycle.CUSTOMER, by=by, only_from=(Account.Lifecycle.PROSPECT,),
    )
    return deal


@transaction.atomic
def deal_lose(*, deal: Deal, by: Any, reason: str) -> Deal:
    deal = _lock_deal(deal)
    permissions.require_can_sell_on(by, deal.account)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the deal was lost."})
    if len(reason) > 2000:
        raise ValidationError({"reason": "Keep the reason under 2000 characters."})
    from_stage = deal.stage
    _transition(deal, deal.lose, reason=reason)
    deal.save()
    _pipeline_move(deal=deal, from_stage=from_stage, from_currency=deal.currency, from_value=deal.value)
    events.deal_stage_changed_event(deal=deal, by=by, from_stage=from_stage, reason=reason)
    return deal


# --- Activities -----------------------------------------------------------------------------

EARLIEST_ACTIVITY = datetime(2000, 1, 1, tzinfo=UTC)


@transaction.atomic
def activity_log(
    *, account: Account, by: Any, kind: str, subject: str, body: str = "",
    occurred_at: datetime | None = None, deal: Deal | None = None,
) -> Activity:
    permissions.require_can_log_activity(by, account)
    if kind not in Activity.LOGGABLE_KINDS:
        raise ValidationError({"kind": "Choose call, meeting, email or note."})
    occurred_at = occurred_at or timezone.now()
    if occurred_at > timezone.now() + timedelta(days=1):
        raise ValidationError(
            {"occurred_at": "An activity is logged once it has happened; this date is in the future."}
        )
    if occurred_at < EARLIEST_ACTIVITY:
        raise ValidationError({"occurred_at": "This date is too far in the past."})
    if deal is not None and deal.account_id != account.pk:
        raise ValidationError({"deal": "This deal belongs to another account."})
    activity = Activity(
        account=account, deal=deal, kind=kind, subject=subject, body=body, occurred_at=occurred_at, actor=by,
    )
    validate_model(activity, exclude=["actor", "deal", "account"])
    activity.save()
    return activity


# --- Reassignment ---------------------------------------------------------------------------


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
    _require_assignable(to_user, "to_user")
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
    _require_assignable(to_user, "to_user")
    assignments = assignments or {}
    for target in assignments.values():
        _require_assignable(target, "assignments")
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


# --- Users ----------------------------------------------------------------------------------


def user_end_access(*, user: Any) -> None:
    """Ends every session and API token of a user (deactivation, reliability 9)."""
    keys = list(LoginSession.objects.filter(user=user).values_list("session_key", flat=True))
    Session.objects.filter(session_key__in=keys).delete()
    LoginSession.objects.filter(user=user).delete()
    Token.objects.filter(user=user).delete()


@transaction.atomic
def user_deactivate(
    *, user: Any, by: Any, successor: Any = None, note: str = "",
) -> ReassignmentPlan | None:
    """Deactivates a vendor user. Whoever still owns accounts needs a successor first."""
    permissions.require_can_manage_users(by)
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.pk == by.pk:
        raise ValidationError({"user": "You cannot deactivate yourself."})
    if not user.is_active:
        raise Conflict("This user is already inactive.")
    plan = None
    owned = Account.objects.owned_by(user).count()
    if owned:
        if successor is None:
            raise ValidationError(
                {"successor": ngettext(
                    "%(name)s still owns %(count)d account: name a successor.",
                    "%(name)s still owns %(count)d accounts: name a successor.",
                    owned,
                ) % {"name": name_of(user), "count": owned}}
            )
        if not roles.can_reassign(by):
            raise PermissionDenied("Only sales managers and administrators reassign a book.")
        plan = book_reassign(
            from_user=user, to_user=successor, by=by, reason=OwnershipChange.Reason.DEPARTURE, note=note,
        )
    now = timezone.now()
    AccountTeamMember.objects.current().filter(user=user).update(ended_at=now)
    user.is_active = False
    # Saving the user inactive ends their sessions and tokens (crm.receivers.user_saved, which
    # also covers the admin and the shell).
    user.save(update_fields=["is_active"])
    return plan


@transaction.atomic
def profile_update(*, user: Any, by: Any, **data: Any) -> UserProfile:
    if by.pk != user.pk and not roles.is_administrator(by):
        raise PermissionDenied("Only administrators change another person's profile.")
    if "manager" in data and not roles.is_administrator(by):
        # Escalations of missed check-ups go to the manager: nobody picks their own.
        raise PermissionDenied("Only administrators set who a person reports to.")
    profile, _ = UserProfile.objects.select_for_update().get_or_create(user=user)
    before = profile.time_zone
    allowed = ("phone", "time_zone", "work_starts", "work_ends", "manager")
    _changes(profile, data, allowed)
    if profile.manager_id == user.pk:
        raise ValidationError({"manager": "Nobody reports to themselves."})
    if profile.manager is not None and not profile.manager.is_active:
        raise ValidationError({"manager": "An inactive user cannot be anyone's manager."})
    validate_model(profile, exclude=["user"])
    if profile.work_starts >= profile.work_ends:
        raise ValidationError({"work_ends": "Working hours must end after they start."})
    zone_changed = profile.time_zone != before
    profile.save()
    if zone_changed:
        time_zones.sessions_follow_zone(user=user, name=profile.time_zone)
    return profile
