"""Demo promises and handovers, added when crm's seed_demo has loaded its accounts."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from handover import services as handover_services
from handover.models import Handover

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


def seed_handovers(*, users: dict[str, Any], rng: random.Random, now: datetime, stdout: Any) -> None:
    """Promises on the won deals, and their handovers in every state of the workflow."""
    handovers = list(Handover.objects.select_related("deal", "account", "rep").order_by("pk"))
    stdout.write(f"Handovers: {len(handovers)} won deals; recording promises and moving them along...")
    targets = ["draft", "submitted", "sales_approved", "accepted", "accepted", "returned", "rejected", "overdue"]
    for index, handover in enumerate(handovers):
        rep = handover.rep
        if not rep.is_active:
            continue
        contacts = list(handover.account.contacts.filter(is_active=True))
        promises = [
            handover_services.promise_record(
                deal=handover.deal,
                by=rep,
                kind=kind,
                description=text,
                source=source,
                made_to=rng.choice(contacts) if contacts else None,
                due_date=(now + timedelta(days=rng.randint(14, 90))).date() if kind == "timeline" else None,
            )
            for kind, source, text in rng.sample(PROMISES, k=rng.randint(1, 3))
        ]
        target = targets[index % len(targets)]
        if target == "draft":
            continue
        handover_services.handover_update(
            handover=handover,
            by=rep,
            customer_expectations=rng.choice(EXPECTATIONS),
            risks=rng.choice(RISKS),
            meeting_at=now - timedelta(days=rng.randint(1, 5)),
            meeting_held=True,
            meeting_minutes="Walked the delivery team through what was sold and every promise.",
            proposed_delivery_owner=users["delivery"],
        )
        handover_services.handover_submit(handover=handover, by=rep)
        if target == "submitted":
            continue
        if target == "returned":
            handover_services.handover_return(
                handover=handover,
                by=users["salesmgr"],
                reason="Add the customer's go-live constraints.",
            )
            continue
        for promise in promises:
            handover_services.promise_review(promise=promise, by=users["salesmgr"], verdict="ok")
        handover_services.handover_approve(handover=handover, by=users["salesmgr"])
        if target == "overdue":
            Handover.objects.filter(pk=handover.pk).update(accept_deadline=now - timedelta(hours=5))
            continue
        if target == "sales_approved":
            continue
        if target == "rejected":
            handover_services.handover_reject(
                handover=handover,
                by=users["deliverymgr"],
                reason="No installer free before next month.",
            )
            continue
        for promise in promises:
            handover_services.promise_review(promise=promise, by=users["deliverymgr"], verdict="feasible")
        handover_services.handover_accept(handover=handover, by=users["deliverymgr"], delivery_owner=users["delivery"])
