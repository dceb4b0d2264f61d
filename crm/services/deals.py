"""Deals: opening, editing, moving, winning and losing one, with its line items and the pipeline
totals every deal change keeps up to date (and their rebuild)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Sum
from django_fsm import TransitionNotAllowed

from core.exceptions import Conflict
from core.names import name_of
from core.validation import validate_model
from crm import events, permissions, roles
from crm.models import Account, Deal, DealLineItem, PipelineTotal
from crm.services.accounts import account_lifecycle_change
from crm.services.shared import apply_changes, require_assignable

DEAL_FIELDS = ("name", "value", "currency", "expected_close_date")


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
    require_assignable(owner, "owner")
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
    changed = apply_changes(deal, data, DEAL_FIELDS)
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


def _require_still_at(deal: Deal, from_stage: str | None) -> None:
    """A move made from a page that showed the deal at `from_stage` (the board, the deal page)
    is refused once someone else moved it meanwhile: the person decided on what they saw."""
    if from_stage is not None and from_stage != deal.stage:
        raise Conflict(
            f"{deal.name} was moved to {deal.get_stage_display()} meanwhile; it has not been moved again. "
            "Reload to see where it is now."
        )


@transaction.atomic
def deal_move(*, deal: Deal, by: Any, to: str, from_stage: str | None = None) -> Deal:
    """`from_stage`: the stage the mover saw the deal at, if the move must not overrule a newer one."""
    deal = _lock_deal(deal)
    permissions.require_can_sell_on(by, deal.account)
    if to not in Deal.Stage.values:
        raise ValidationError({"stage": f"Unknown stage {to!r}."})
    _require_still_at(deal, from_stage)
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


@transaction.atomic
def deal_reopen(*, deal: Deal, by: Any, to: str, reason: str = "") -> Deal:
    """Puts a won or lost deal back at an open stage, with the reason if one is given. A won
    deal's handover is the handover app's: reopening one goes through flows.deal_reopen, which
    discards its draft (or refuses once it was submitted)."""
    deal = _lock_deal(deal)
    permissions.require_can_sell_on(by, deal.account)
    if to not in Deal.OPEN_STAGES:
        raise ValidationError({"to": f"Reopen at an open stage (lead, qualified, proposal, negotiation), not {to!r}."})
    reason = (reason or "").strip()
    if len(reason) > 2000:
        raise ValidationError({"reason": "Keep the reason under 2000 characters."})
    from_stage = deal.stage
    if from_stage not in (Deal.Stage.WON, Deal.Stage.LOST):
        raise Conflict(f"{deal.name} is open ({deal.get_stage_display()}): only a won or lost deal is reopened.")
    _transition(deal, deal.reopen, to=to)
    deal.save()
    _pipeline_move(deal=deal, from_stage=from_stage, from_currency=deal.currency, from_value=deal.value)
    events.deal_reopened_event(deal=deal, by=by, from_stage=from_stage, reason=reason)
    if from_stage == Deal.Stage.WON and not deal.account.deals.filter(stage=Deal.Stage.WON).exists():
        # The account became a customer by winning; with no won deal left it is a prospect again
        # (an account further along, onboarding or active, stays where it is).
        account_lifecycle_change(
            account=deal.account, to=Account.Lifecycle.PROSPECT, by=by, only_from=(Account.Lifecycle.CUSTOMER,),
        )
    return deal
