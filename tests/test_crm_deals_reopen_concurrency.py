"""Reopening a won deal while its rep submits the handover, on PostgreSQL's row locks: one of the
two happens, the other is refused with a conflict, and the deal and its handover agree."""

from __future__ import annotations

import pytest
from django.db import connection

from core.exceptions import Conflict
from crm.models import Activity, Deal
from flows import actions as flows
from handover import services as handover_services
from handover.models import Handover
from tests.scenarios import ready_to_submit, run_together

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="concurrency tests need PostgreSQL row locks: set DATABASE_URL=postgres://... (CI does)",
    ),
]


def test_a_reopen_racing_the_handovers_submission_leaves_one_outcome(deal, rep, salesmgr):
    flows.deal_win(deal=deal, by=rep)
    handover = ready_to_submit(Handover.objects.get(deal=deal), rep)
    results = run_together(
        lambda: flows.deal_reopen(deal=deal, by=salesmgr, to="negotiation"),
        lambda: handover_services.handover_submit(handover=handover, by=rep),
    )
    assert sum(isinstance(r, Conflict) for r in results) == 1, results
    reopened, submitted = results
    deal.refresh_from_db()
    if isinstance(reopened, Deal):
        assert deal.stage == "negotiation" and not Handover.objects.filter(deal=deal).exists()
        assert "discarded" in str(submitted)
    else:
        assert deal.stage == "won" and Handover.objects.get(deal=deal).state == "submitted"
        assert not Activity.objects.filter(deal=deal, event_type="deal.reopened").exists()


def test_two_concurrent_reopens_of_a_lost_deal_let_one_through(deal, rep, salesmgr):
    from crm import services

    services.deal_lose(deal=deal, by=rep, reason="Budget")
    results = run_together(
        lambda: flows.deal_reopen(deal=deal, by=rep, to="lead"),
        lambda: flows.deal_reopen(deal=deal, by=salesmgr, to="proposal"),
    )
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "Deal"], results
    assert Activity.objects.filter(deal=deal, event_type="deal.reopened").count() == 1
