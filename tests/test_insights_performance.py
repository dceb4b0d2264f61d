"""The performance dashboard's figures, month by month and on the person page, on the hand-built
history (tests/insights_world.py) against values worked out by hand: a pre-sales promise on a
rep's deal, an account reassigned mid-period, a withdrawn promise, a problem with no promise, a
customer-side change."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from insights import selectors
from insights.selectors import Period
from tests.insights_world import END, START, World, now, world_for

# Its fixed dates come after its fixtures only if the fixtures are made before them (tests.conftest).
pytestmark = pytest.mark.usefixtures("made_before_the_fixed_dates")


PERIOD = Period(start=START, end=END)


@pytest.fixture
def world(request: pytest.FixtureRequest) -> World:
    return world_for(request)


def figures(card: selectors.Scorecard) -> dict:
    return {
        "deals_won": card.deals_won, "won_value": card.won_value, "made": card.promises_made,
        "kept": card.promises_kept, "broken": card.promises_broken, "reset": card.promises_reset,
        "withdrawn": card.promises_withdrawn, "active": card.promises_active, "kept_rate": card.kept_rate,
        "traced": card.problems_traced, "involved": card.won_deals_involved, "per_deal": card.problems_per_won_deal,
        "returned": card.handovers_returned, "rejected": card.handovers_rejected,
        "won_to_accepted": card.median_days_won_to_accepted, "day30": card.median_day30_satisfaction,
        "day30_answers": card.day30_answers, "checkups_due": card.checkups_due, "on_time": card.checkups_on_time,
    }


REP = {
    # Acme (48,000 EUR, 10 Jan) and Initech's expansion (5,000 USD, 24 Feb); the December pilot is
    # outside the period and Globex, now his, was sold by rep2.
    "deals_won": 2, "won_value": {"EUR": Decimal("48000.00"), "USD": Decimal("5000.00")},
    # P1, P3, P4, P7 on Acme and P6 on Initech: one of each state.
    "made": 5, "kept": 1, "broken": 1, "reset": 1, "withdrawn": 1, "active": 1, "kept_rate": 50.0,
    # X2 names P1; X3 names P4 but is a customer-side change; X4 names no promise.
    "traced": 1, "involved": 2, "per_deal": 0.5,
    "returned": 1, "rejected": 1,
    "won_to_accepted": 3.5,  # Acme 5 days, Initech 2 days
    "day30": 3.0, "day30_answers": 1,  # the customer's 3/5 wins over the 2/5 recorded at the review
    "checkups_due": 2, "on_time": 1,  # Acme's thank-you on time; Initech's still open two days on
}


PRESALES = {
    "deals_won": 0, "won_value": {}, "made": 1, "kept": 0, "broken": 1, "reset": 0, "withdrawn": 0, "active": 0,
    "kept_rate": 0.0,
    # P2 is named by X1 and X2; the one deal P2 is on counts as a won deal he worked on.
    "traced": 2, "involved": 1, "per_deal": 2.0,
    "returned": 0, "rejected": 0, "won_to_accepted": None, "day30": 3.0, "day30_answers": 1,
    "checkups_due": 0, "on_time": 0,
}


REP2 = {
    # Globex stays rep2's sale after the account moved to rep.
    "deals_won": 1, "won_value": {"EUR": Decimal("9000.00")}, "made": 1, "kept": 0, "broken": 0, "reset": 0,
    "withdrawn": 0, "active": 1, "kept_rate": None, "traced": 0, "involved": 1, "per_deal": 0.0,
    "returned": 0, "rejected": 0, "won_to_accepted": None, "day30": None, "day30_answers": 0,
    "checkups_due": 0, "on_time": 0,
}


TOTAL = {
    "deals_won": 3, "won_value": {"EUR": Decimal("57000.00"), "USD": Decimal("5000.00")}, "made": 7, "kept": 1,
    "broken": 2, "reset": 1, "withdrawn": 1, "active": 2, "kept_rate": 33.3,
    "traced": 2,  # X1 and X2 once each, though X2 traces to two people
    "involved": 3, "per_deal": 0.67, "returned": 1, "rejected": 1, "won_to_accepted": 3.5, "day30": 3.0,
    "day30_answers": 1, "checkups_due": 2, "on_time": 1,
}


def test_performance_attributes_to_the_frozen_seller_and_maker(world):
    with now():
        perf = selectors.performance(period=PERIOD, team=None, viewer=world.salesmgr)
    assert [(c.name, c.role) for c in perf.rows] == [
        ("Presales", "Pre-sales consultant"), ("Rep", "Sales rep"), ("Rep2", "Sales rep"),
    ]
    presales, rep, rep2 = perf.rows
    assert figures(rep) == REP
    assert figures(presales) == PRESALES
    assert figures(rep2) == REP2
    assert perf.total is not None and figures(perf.total) == TOTAL


def test_the_team_filter_keeps_the_managers_reports(world):
    with now():
        perf = selectors.performance(period=PERIOD, team=world.salesmgr.pk, viewer=world.salesmgr)
    assert [c.name for c in perf.rows] == ["Rep"]
    assert perf.total is not None and figures(perf.total) == REP


def test_a_rep_sees_only_their_own_scorecard_without_a_total(world):
    with now():
        perf = selectors.performance(period=PERIOD, team=world.salesmgr.pk, viewer=world.presales)
    assert [figures(c) for c in perf.rows] == [PRESALES] and perf.total is None


def test_a_year_long_trend_has_a_point_per_month(world):
    with now():
        points = selectors.trends(period=Period(start=date(2026, 4, 1), end=END), team=None, viewer=world.salesmgr)
    assert [p.month.strftime("%Y-%m") for p in points][::6] == ["2026-04", "2026-10"] and len(points) == 12
    assert sum(p.deals_won for p in points) == 4 and sum(p.promises_made for p in points) == 7


def test_a_period_before_the_sales_shows_only_the_pilot(world):
    with now():
        december = Period(start=date(2026, 12, 1), end=date(2026, 12, 31))
        perf = selectors.performance(period=december, team=None, viewer=world.salesmgr)
    rep = next(c for c in perf.rows if c.name == "Rep")
    assert (rep.deals_won, rep.won_value, rep.promises_made) == (1, {"EUR": Decimal("1000.00")}, 0)


def test_monthly_trend_and_the_person_page(world):
    with now():
        page = selectors.person_page(period=PERIOD, viewer=world.salesmgr, person=world.rep)
    trend = {p.month.strftime("%Y-%m"): (p.deals_won, p.promises_made, p.promises_kept, p.promises_broken,
                                         p.problems_traced) for p in page.trend}
    # The period's three months, widened to six so a short period still shows a trend.
    assert list(trend) == ["2026-10", "2026-11", "2026-12", "2027-01", "2027-02", "2027-03"]
    assert {m: v for m, v in trend.items() if any(v)} == {
        "2026-12": (1, 0, 0, 0, 0),  # the pilot: inside the six-month trend, outside the period
        "2027-01": (1, 4, 1, 1, 0),
        "2027-02": (1, 1, 0, 0, 1),
    }
    assert figures(page.scorecard) == REP
    assert [d["name"] for d in page.deals] == ["Initech expansion", "Acme line 2"]
    assert sorted(p["id"] for p in page.promises) == sorted(
        world.promises[k].pk for k in ("P1", "P3", "P4", "P6", "P7")
    )
    # Every problem naming his promises is listed; the customer-side change is marked not counted.
    assert [(p["title"], p["counted"]) for p in page.problems] == [
        ("Customer moved the line", False), ("Arm 2 misaligned", True),
    ]


def test_presales_page_lists_the_reps_deal_they_promised_on(world):
    with now():
        page = selectors.person_page(period=PERIOD, viewer=world.salesmgr, person=world.presales)
    assert [(d["name"], d["part"], d["sold_by"]) for d in page.deals] == [("Acme line 2", "promise", "Rep")]
    assert [p["title"] for p in page.problems] == ["Arm 2 misaligned", "PLC link missing"]
