"""Promises: recording, editing, reviewing, resetting and withdrawing what was promised while
the handover is prepared, and delivery's verdict (kept or broken) once it is accepted."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.exceptions import Conflict
from core.transitions import fire_transition
from core.validation import validate_model
from crm import roles
from crm.models import Account, Contact, Deal
from handover import events, permissions
from handover.models import Handover, Promise, PromiseReview
from handover.services.shared import check_contact

PROMISE_FIELDS = ("kind", "description", "made_to", "due_date", "source", "source_reference")


def _lock_handover_of(deal: Deal) -> Handover | None:
    return Handover.objects.select_for_update().filter(deal=deal).first()


def _require_promises_open(deal: Deal) -> None:
    """Promises change while the handover is being prepared; once submitted they are under
    review, once accepted they belong to delivery."""
    handover = _lock_handover_of(deal)
    if handover is not None and not handover.is_editable:
        raise Conflict(f"The handover is {handover.get_state_display().lower()}; promises can no longer change.")


@transaction.atomic
def promise_record(
    *,
    deal: Deal,
    by: Any,
    kind: str,
    description: str,
    source: str,
    made_to: Contact | None = None,
    due_date: date | None = None,
    source_reference: str = "",
) -> Promise:
    deal = Deal.objects.select_for_update().select_related("account").get(pk=deal.pk)
    permissions.require_can_record_promise(by, deal.account)
    if deal.stage == Deal.Stage.LOST:
        raise Conflict("The deal is lost; there is nothing to promise.")
    _require_promises_open(deal)
    check_contact(made_to, deal.account, "made_to")
    promise = Promise(
        deal=deal,
        account=deal.account,
        kind=kind,
        description=(description or "").strip(),
        source=source,
        made_to=made_to,
        due_date=due_date,
        source_reference=source_reference,
        made_by=by,
    )
    validate_model(promise)
    promise.save()
    events.promise_recorded_event(promise=promise, by=by)
    return promise


def _lock_promise(promise: Promise) -> Promise:
    Deal.objects.select_for_update().filter(pk=promise.deal_id).values_list("pk").get()
    return Promise.objects.select_for_update().get(pk=promise.pk)


@transaction.atomic
def promise_update(*, promise: Promise, by: Any, **data: Any) -> Promise:
    promise = _lock_promise(promise)
    deal = Deal.objects.select_related("account").get(pk=promise.deal_id)
    permissions.require_can_record_promise(by, deal.account)
    _require_promises_open(deal)
    if promise.state != Promise.State.ACTIVE:
        raise Conflict("Only an active promise can be edited.")
    unknown = set(data) - set(PROMISE_FIELDS)
    if unknown:
        raise ValidationError({n: "This field cannot be changed here." for n in sorted(unknown)})
    check_contact(data.get("made_to"), deal.account, "made_to")
    changed = []
    for name, value in data.items():
        if getattr(promise, name) != value:
            setattr(promise, name, value)
            changed.append(name)
    if not changed:
        return promise
    validate_model(promise)
    promise.save()
    events.promise_changed_event(promise=promise, by=by, changed={"fields": changed})
    return promise


@transaction.atomic
def promise_review(
    *,
    promise: Promise,
    by: Any,
    verdict: str,
    comment: str = "",
    kind: str | None = None,
) -> PromiseReview:
    """A review by a sales manager (ok / at risk / not acceptable) or a delivery manager
    (feasible / at risk / not feasible). Re-doable until the handover is accepted."""
    review_kind = permissions.review_kind_for(by, kind)
    promise = _lock_promise(promise)
    handover = Handover.objects.filter(deal_id=promise.deal_id).first()
    if handover is not None and handover.state == Handover.State.ACCEPTED:
        raise Conflict("The handover is accepted; reviews are closed.")
    if promise.state == Promise.State.WITHDRAWN:
        raise Conflict("A withdrawn promise is not reviewed.")
    allowed = PromiseReview.VERDICTS[PromiseReview.Kind(review_kind)]
    if verdict not in allowed:
        choices = ", ".join(str(v.label).lower() for v in allowed)
        raise ValidationError({"verdict": f"A {review_kind} review is one of: {choices}."})
    if verdict in (PromiseReview.Verdict.NOT_ACCEPTABLE, PromiseReview.Verdict.NOT_FEASIBLE) and not comment.strip():
        raise ValidationError({"comment": "Say what is wrong with this promise."})
    review = PromiseReview(promise=promise, kind=review_kind, verdict=verdict, comment=comment.strip(), reviewer=by)
    validate_model(review, exclude=["promise", "reviewer"])
    review.save()
    events.promise_reviewed_event(review=review, by=by)
    return review


@transaction.atomic
def promise_reset(
    *,
    promise: Promise,
    by: Any,
    expectation: str,
    agreed_by: Contact | None,
    agreed_on: date,
) -> Promise:
    """Documents an expectation reset with the customer: what they now expect, who agreed, when."""
    promise = _lock_promise(promise)
    deal = Deal.objects.select_related("account").get(pk=promise.deal_id)
    _require_rep_or_sales_manager(by, deal.account)
    _require_not_accepted(deal)
    expectation = (expectation or "").strip()
    errors = {}
    if not expectation:
        errors["expectation"] = "Write what the customer now expects."
    if agreed_by is None:
        errors["agreed_by"] = "Name the customer contact who agreed."
    if agreed_on is None:
        errors["agreed_on"] = "Say when the customer agreed."
    elif agreed_on > timezone.localdate():
        errors["agreed_on"] = "The agreement cannot be in the future."
    if errors:
        raise ValidationError(errors)
    check_contact(agreed_by, deal.account, "agreed_by")
    from_state = promise.state
    fire_transition(promise.reset, expectation=expectation, agreed_by=agreed_by, agreed_on=agreed_on)
    validate_model(promise)
    promise.save()
    events.promise_state_event(promise=promise, by=by, from_state=from_state, reason=expectation)
    return promise


@transaction.atomic
def promise_withdraw(*, promise: Promise, by: Any, reason: str) -> Promise:
    promise = _lock_promise(promise)
    deal = Deal.objects.select_related("account").get(pk=promise.deal_id)
    _require_rep_or_sales_manager(by, deal.account)
    _require_not_accepted(deal)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the promise is withdrawn."})
    from_state = promise.state
    fire_transition(promise.withdraw, reason=reason)
    validate_model(promise)
    promise.save()
    events.promise_state_event(promise=promise, by=by, from_state=from_state, reason=reason)
    return promise


def _delivered_deals(deal_ids: set[int]) -> set[int]:
    """Which of these deals' handovers are accepted: only their promises are kept or broken."""
    return set(
        Handover.objects.filter(deal_id__in=deal_ids, state=Handover.State.ACCEPTED).values_list("deal_id", flat=True)
    )


@transaction.atomic
def promise_mark_outcome(*, promise: Promise, by: Any, kept: bool, reason: str = "") -> Promise:
    """Delivery's verdict on a promise after acceptance (the delivery app calls this)."""
    promise = _lock_promise(promise)
    if not _delivered_deals({promise.deal_id}):
        raise Conflict("A promise is kept or broken only after the handover is accepted.")
    from_state = promise.state
    fire_transition(promise.mark_kept if kept else promise.mark_broken)
    promise.save()
    events.promise_state_event(promise=promise, by=by, from_state=from_state, reason=reason)
    return promise


@transaction.atomic
def promises_break(*, promises: list[Promise], by: Any, category: str, reason: str) -> list[int]:
    """A problem of `category` naming `promises` breaks those it can (Promise.BREAKABLE_STATES
    and broken_by_problem say which); naming one whose handover is not accepted is refused.
    Returns the ids of the promises marked broken."""
    if not Promise.broken_by_problem(category):
        return []
    breakable = [p for p in promises if p.state in Promise.BREAKABLE_STATES]
    delivered = _delivered_deals({p.deal_id for p in breakable})
    if any(p.deal_id not in delivered for p in breakable):
        raise ValidationError(
            {"promises": "A promise is broken only once its handover is accepted; choose delivered promises."}
        )
    for promise in breakable:
        promise_mark_outcome(promise=promise, by=by, kept=False, reason=reason)
    return [p.pk for p in breakable]


def _require_rep_or_sales_manager(user: Any, account: Account) -> None:
    if roles.has_role(user, roles.SALES_MANAGER):
        return
    permissions.require_can_record_promise(user, account)


def _require_not_accepted(deal: Deal) -> None:
    handover = _lock_handover_of(deal)
    if handover is not None and handover.state == Handover.State.ACCEPTED:
        raise Conflict("The handover is accepted; the promise now belongs to delivery.")
