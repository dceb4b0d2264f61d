"""Demo promises and handovers, added once the crm part of the story has loaded its accounts."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q

from demo.story.clock import DemoClock, spread
from flows import actions as flows
from handover import services as handover_services
from handover.models import Handover, Promise, PromiseReview
from handover.services import add_working_days

PROMISES = [
    ("timeline", "call", "Go-live before the end of the quarter."),
    ("deliverable", "proposal", "On-site installation by our own engineers, not a subcontractor."),
    ("service_level", "email", "Four-hour response on priority-one support tickets."),
    ("integration", "demo", "The ERP integration works out of the box with their SAP version."),
    ("support", "call", "A named support contact for the first 90 days."),
    ("commercial", "proposal", "Training for up to 12 people included in the price."),
    ("other", "demo", "Custom dashboard for the plant manager."),
]
EXPECTATIONS = [
    '"We need the new line running before the spring peak, and nobody on our side has time to babysit it."',
    '"Our people must be able to use it on day one; last time the training came after go-live."',
    '"We bought it for the integration: if the orders don\'t flow into SAP, it is worthless to us."',
]
RISKS = [
    "Their IT team is two people; the integration depends on them.",
    "The champion is going on leave in six weeks.",
    "Tight budget: any extra cost will be contested.",
]


# How many days ago each accepted handover was accepted (its agenda starts that day): the demo
# rep's take the youngest (a thank-you note due today), the others the rest, oldest first.
REP_ACCEPTED_DAYS_AGO = [0, 4, 1]
OTHER_ACCEPTED_DAYS_AGO = [26, 17, 9, 7, 4, 3, 1, 0]


def _stamped() -> list[tuple[Any, str]]:
    """What the handover services stamp "now". Not the ledger's rows that acceptance writes (the
    account moving to its delivery owner): the crm demo dated the account's team history until
    last week, and a team period may not end before it began. The project acceptance starts is
    delivery's: its demo dates it from `accepted_at`."""
    from crm.models import Activity

    return [
        (Handover, "submitted_at"), (Handover, "approved_at"), (Handover, "accepted_at"),
        (Promise, "made_at"), (Promise, "outcome_at"), (PromiseReview, "created_at"),
        (Activity, "occurred_at"), (Activity, "created_at"),
    ]


def _working_hours(moment: datetime, rng: random.Random) -> datetime:
    """The same day between 9:00 and 16:59 (the Friday before, for a weekend): office hours."""
    while moment.weekday() >= 5:
        moment -= timedelta(days=1)
    return moment.replace(hour=rng.randint(9, 16), minute=rng.choice([0, 10, 20, 30, 40, 50]))


class _Timeline:
    """When each step of one handover happened, latest first from the target state back to the win."""

    def __init__(self, target: str, *, now: datetime, rng: random.Random, accepted_days_ago: int) -> None:
        def hours(low: int, high: int) -> timedelta:
            return timedelta(hours=rng.randint(low, high))

        # Each moment means something only for the targets that reach it.
        self.accepted = self.rejected = self.returned = self.approved = now
        approved = target in ("accepted", "overdue", "sales_approved", "rejected")
        if target == "accepted":
            self.accepted = min(_working_hours(now - timedelta(days=accepted_days_ago), rng), now - hours(1, 3))
            self.approved = self.accepted - hours(4, 30)
        elif target == "overdue":
            # Approved long enough ago that the working-day deadline has passed by a few hours.
            self.approved = now - timedelta(days=2, hours=rng.randint(5, 20))
            while add_working_days(self.approved, _accept_days()) > now - timedelta(hours=2):
                self.approved -= timedelta(days=1)
        elif target == "sales_approved":
            self.approved = now - hours(3, 20)
        elif target == "rejected":
            self.rejected = now - hours(24, 200)
            self.approved = self.rejected - hours(5, 30)
        if approved:
            self.submitted = self.approved - hours(3, 28)
        elif target == "returned":
            self.returned = now - hours(20, 120)
            self.submitted = self.returned - hours(3, 24)
        else:
            self.submitted = now - hours(3, 40)
        self.meeting = self.submitted - hours(2, 48)
        self.won_by = self.meeting - hours(20, 200)  # the latest the deal can have been won
        self.deadline = add_working_days(self.approved, _accept_days())


def _accept_days() -> int:
    return int(settings.KEEPWARM["HANDOVER_ACCEPT_WORKING_DAYS"])


def _won_at(handover: Handover, latest: datetime) -> datetime:
    """The deal's win, moved before the handover's first step where the crm demo dated it later."""
    from crm.models import Activity, Deal

    won = handover.deal.closed_at or latest
    if won > latest:
        Deal.objects.filter(pk=handover.deal_id).update(closed_at=latest)
        # The win's event and the draft's opening (no other handover step has run yet).
        Activity.objects.filter(
            Q(event_type="deal.won") | Q(event_type__startswith="handover."), deal=handover.deal_id
        ).update(occurred_at=latest, created_at=latest)
        won = latest
    Handover.objects.filter(pk=handover.pk).update(created_at=won)
    return won


def seed_handovers(*, users: dict[str, Any], rng: random.Random, now: datetime, stdout: Any) -> None:
    """Promises on the won deals, and their handovers in every state of the workflow, each step
    dated when the story says it happened: promises while selling, the handover after the win,
    approvals before their deadlines, acceptances days to weeks ago."""
    handovers = list(Handover.objects.select_related("deal", "account", "rep").order_by("pk"))
    stdout.write(f"Handovers: {len(handovers)} won deals; recording promises and moving them along...")
    targets = ["draft", "submitted", "sales_approved", "accepted", "accepted", "returned", "rejected", "overdue"]
    clock = DemoClock(_stamped())
    rep_ages, other_ages = list(REP_ACCEPTED_DAYS_AGO), list(OTHER_ACCEPTED_DAYS_AGO)
    for index, handover in enumerate(handovers):
        rep = handover.rep
        if not rep.is_active:
            continue
        target = targets[index % len(targets)]
        age = 0
        if target == "accepted":
            pool = rep_ages if rep.pk == users["rep"].pk and rep_ages else other_ages
            age = pool.pop(0) if pool else 0
        when = _Timeline(target, now=now, rng=rng, accepted_days_ago=age)
        won = _won_at(handover, when.won_by if target != "draft" else now)
        selling_from = max(handover.deal.created_at, won - timedelta(days=40))
        contacts = list(handover.account.contacts.filter(is_active=True))
        picked = rng.sample(PROMISES, k=rng.randint(1, 3))
        promises = []
        for (kind, source, text), made_at in zip(picked, spread(selling_from, won, len(picked)), strict=True):
            with clock.at(made_at):
                promises.append(handover_services.promise_record(
                    deal=handover.deal,
                    by=rep,
                    kind=kind,
                    description=text,
                    source=source,
                    made_to=rng.choice(contacts) if contacts else None,
                    due_date=(now + timedelta(days=rng.randint(14, 90))).date() if kind == "timeline" else None,
                ))
        if target == "draft":
            continue
        with clock.at(when.meeting + timedelta(hours=1)):
            handover_services.handover_update(
                handover=handover,
                by=rep,
                customer_expectations=rng.choice(EXPECTATIONS),
                risks=rng.choice(RISKS),
                meeting_at=when.meeting,
                meeting_held=True,
                meeting_minutes="Walked the delivery team through what was sold and every promise.",
                proposed_delivery_owner=users["delivery"],
            )
        with clock.at(when.submitted):
            handover_services.handover_submit(handover=handover, by=rep)
        if target == "submitted":
            continue
        if target == "returned":
            with clock.at(when.returned):
                handover_services.handover_return(
                    handover=handover,
                    by=users["salesmgr"],
                    reason="Add the customer's go-live constraints.",
                )
            continue
        with clock.at(when.approved - timedelta(minutes=30)):
            for promise in promises:
                handover_services.promise_review(promise=promise, by=users["salesmgr"], verdict="ok")
        with clock.at(when.approved):
            handover_services.handover_approve(handover=handover, by=users["salesmgr"])
        # The deadline counts working days from the approval, as handover_approve does from "now".
        Handover.objects.filter(pk=handover.pk).update(accept_deadline=when.deadline)
        handover.refresh_from_db()
        if target in ("overdue", "sales_approved"):
            continue
        if target == "rejected":
            with clock.at(when.rejected):
                handover_services.handover_reject(
                    handover=handover,
                    by=users["deliverymgr"],
                    reason="No installer free before next month.",
                )
            continue
        with clock.at(when.accepted - timedelta(hours=1)):
            for promise in promises:
                handover_services.promise_review(promise=promise, by=users["deliverymgr"], verdict="feasible")
        with clock.at(when.accepted):
            flows.handover_accept(
                handover=handover, by=users["deliverymgr"], delivery_owner=users["delivery"]
            )
