"""Every handover action in every state for every role, from one table: the right role in a
source state moves it; the right role elsewhere gets a conflict (409) and nothing changes; the
wrong role gets 403 and nothing changes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from core.exceptions import Conflict
from crm.models import Activity
from flows import actions as flows
from handover import services
from handover.models import Handover

SOURCES = {
    "submit": {"draft", "returned", "rejected"},
    "approve": {"submitted"},
    "return": {"submitted"},
    "accept": {"sales_approved"},
    "reject": {"sales_approved"},
}
ALLOWED_ROLES = {
    "submit": {"rep", "salesmgr"},
    "approve": {"salesmgr"},
    "return": {"salesmgr"},
    "accept": {"deliverymgr"},
    "reject": {"deliverymgr"},
}
STATES = ["draft", "submitted", "sales_approved", "accepted", "returned", "rejected"]
ROLES = ["rep", "salesmgr", "deliverymgr", "delivery"]


def build(state: str, deal, rep, salesmgr, deliverymgr, delivery) -> Handover:  # type: ignore[no-untyped-def]
    promise = services.promise_record(deal=deal, by=rep, kind="timeline", description="Live by May", source="call")
    flows.deal_win(deal=deal, by=rep)
    handover = Handover.objects.get(deal=deal)
    services.handover_update(
        handover=handover, by=rep, customer_expectations="Live by May.", meeting_at=timezone.now() - timedelta(hours=1),
        meeting_held=True,
    )
    if state == "draft":
        return handover
    services.handover_submit(handover=handover, by=rep)
    if state == "returned":
        return services.handover_return(handover=handover, by=salesmgr, reason="More detail")
    services.promise_review(promise=promise, by=salesmgr, verdict="ok")
    services.promise_review(promise=promise, by=deliverymgr, verdict="feasible")
    if state == "submitted":
        return handover
    services.handover_approve(handover=handover, by=salesmgr)
    if state == "rejected":
        return services.handover_reject(handover=handover, by=deliverymgr, reason="No capacity")
    if state == "accepted":
        return flows.handover_accept(handover=handover, by=deliverymgr, delivery_owner=delivery)
    return handover


def act(action: str, handover: Handover, user, delivery):  # type: ignore[no-untyped-def]
    calls = {
        "submit": lambda: services.handover_submit(handover=handover, by=user),
        "approve": lambda: services.handover_approve(handover=handover, by=user),
        "return": lambda: services.handover_return(handover=handover, by=user, reason="Why"),
        "accept": lambda: flows.handover_accept(handover=handover, by=user, delivery_owner=delivery),
        "reject": lambda: services.handover_reject(handover=handover, by=user, reason="Why"),
    }
    return calls[action]()


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("action", list(SOURCES))
def test_transition_table(action, state, role, deal, rep, salesmgr, deliverymgr, delivery, request):
    handover = build(state, deal, rep, salesmgr, deliverymgr, delivery)
    user = request.getfixturevalue(role)
    events_before = Activity.objects.filter(deal=deal).count()
    if role not in ALLOWED_ROLES[action]:
        expected: type[Exception] | None = PermissionDenied
    elif state not in SOURCES[action]:
        expected = Conflict
    else:
        expected = None
    if expected is None:
        moved = act(action, handover, user, delivery)
        assert moved.state != state
        assert Activity.objects.filter(deal=deal, event_type=f"handover.{moved.state}").exists()
    else:
        with pytest.raises(expected):
            act(action, handover, user, delivery)
        assert Handover.objects.get(pk=handover.pk).state == state
        assert Activity.objects.filter(deal=deal).count() == events_before
