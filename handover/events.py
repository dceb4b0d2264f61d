"""One function per handover event kind; each writes a row on the account's timeline."""

from __future__ import annotations

from typing import Any

from crm.events import event_record
from crm.models import Activity
from handover.models import Handover, Promise, PromiseReview


def promise_recorded_event(*, promise: Promise, by: Any) -> Activity:
    return event_record(
        account=promise.account,
        deal=promise.deal,
        event_type="promise.recorded",
        actor=by,
        subject=f"Promise recorded ({promise.get_kind_display()}): {promise.description[:120]}",
        data={"promise": promise.pk, "made_by": promise.made_by_id, "source": promise.source},
    )


def promise_changed_event(*, promise: Promise, by: Any, changed: dict[str, Any]) -> Activity:
    return event_record(
        account=promise.account,
        deal=promise.deal,
        event_type="promise.updated",
        actor=by,
        subject=f"Promise changed: {promise.description[:120]}",
        data={"promise": promise.pk, "changed": changed},
    )


def promise_reviewed_event(*, review: PromiseReview, by: Any) -> Activity:
    promise = review.promise
    return event_record(
        account=promise.account,
        deal=promise.deal,
        event_type=f"promise.review.{review.kind}",
        actor=by,
        subject=f"{review.get_kind_display()}: {review.get_verdict_display()} — {promise.description[:100]}",
        body=review.comment,
        data={"promise": promise.pk, "review": review.pk, "verdict": review.verdict},
    )


def promise_state_event(*, promise: Promise, by: Any, from_state: str, reason: str = "") -> Activity:
    labels = dict(Promise.State.choices)
    return event_record(
        account=promise.account,
        deal=promise.deal,
        event_type=f"promise.{promise.state}",
        actor=by,
        subject=f"Promise {labels[promise.state].lower()}: {promise.description[:120]}",
        body=reason,
        data={"promise": promise.pk, "from": from_state, "to": promise.state},
    )


def handover_created_event(*, handover: Handover, by: Any) -> Activity:
    return event_record(
        account=handover.account,
        deal=handover.deal,
        event_type="handover.created",
        actor=by,
        subject=f"Handover drafted for {handover.deal.name}",
        data={"handover": handover.pk, "to": handover.state},
    )


def handover_discarded_event(*, handover: Handover, by: Any) -> Activity:
    return event_record(
        account=handover.account,
        deal=handover.deal,
        event_type="handover.discarded",
        actor=by,
        subject=f"Handover draft for {handover.deal.name} discarded: the deal was reopened",
        data={"handover": handover.pk, "from": handover.state},
    )


def handover_updated_event(*, handover: Handover, by: Any, changed: list[str]) -> Activity:
    return event_record(
        account=handover.account,
        deal=handover.deal,
        event_type="handover.updated",
        actor=by,
        subject=f"Handover for {handover.deal.name} edited",
        data={"handover": handover.pk, "changed": changed},
    )


def handover_transition_event(*, handover: Handover, by: Any, from_state: str, reason: str = "") -> Activity:
    labels = dict(Handover.State.choices)
    data: dict[str, Any] = {"handover": handover.pk, "from": from_state, "to": handover.state}
    if handover.delivery_owner_id and handover.state == Handover.State.ACCEPTED:
        data["delivery_owner"] = handover.delivery_owner_id
    return event_record(
        account=handover.account,
        deal=handover.deal,
        event_type=f"handover.{handover.state}",
        actor=by,
        subject=f"Handover for {handover.deal.name}: {labels[from_state]} -> {labels[handover.state]}",
        body=reason,
        data=data,
    )


def handover_escalated_event(*, handover: Handover) -> Activity:
    return event_record(
        account=handover.account,
        deal=handover.deal,
        event_type="handover.escalated",
        actor_label="Keepwarm",
        subject=f"Handover for {handover.deal.name} is past its acceptance deadline; delivery managers alerted",
        data={
            "handover": handover.pk,
            "deadline": handover.accept_deadline.isoformat() if handover.accept_deadline else None,
        },
    )
