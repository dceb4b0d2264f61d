"""Each dashboard figure on a hand-built history (tests/insights_world.py) against values worked
out by hand, including the awkward cases: a pre-sales promise on a rep's deal, an account
reassigned mid-period, a withdrawn promise, a problem with no promise, a customer-side change."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from crm import services as crm
from crm.models import Account
from flows import actions as flows
from insights import selectors
from insights.selectors import Period
from tests.insights_world import END, START, World, build_world, now

# Its fixed dates come after its fixtures only if the fixtures are made before them (tests.conftest).
pytestmark = pytest.mark.usefixtures("made_before_the_fixed_dates")

PERIOD = Period(start=START, end=END)


@pytest.fixture
def world(rep, rep2, presales, salesmgr, deliverymgr, delivery, account, deal, other_account, other_deal) -> World:
    return build_world(rep=rep, rep2=rep2, presales=presales, salesmgr=salesmgr, deliverymgr=deliverymgr,
                       delivery=delivery, account=account, deal=deal, other_account=other_account,
                       other_deal=other_deal)


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


def test_reassignment_counts_orphans_until_the_departure_is_handled(world):
    with now():
        before = selectors.reassignment(period=PERIOD, team=None, viewer=world.salesmgr)
    assert [(o.name, o.is_active, o.accounts) for o in before.owners] == [
        ("Delivery", True, 2), ("Leaver", False, 1), ("Rep", True, 1),
    ]
    assert before.orphan_count == 1 and [a.name for a in before.orphans] == ["Umbrella Corp"]
    assert [o.name for o in before.orphan_owners] == ["Leaver"]
    # Customers only (Umbrella is a prospect): Acme lost Bruno, Globex and Initech have one contact.
    assert before.single_threaded_count == 3
    assert [(a.name, a.contacts) for a in before.single_threaded] == [
        ("Acme Robotics", 1), ("Globex", 1), ("Initech", 1),
    ]
    # The same accounts as crm's own rule (insights restates it in a form PostgreSQL plans well).
    crm_rule = Account.objects.filter(lifecycle__in=selectors.CUSTOMER_LIFECYCLES).single_threaded()
    assert {a.account_id for a in before.single_threaded} == set(crm_rule.values_list("pk", flat=True))
    assert before.changes_by_reason == {"handover": 2, "territory": 1}
    assert [(c.account, c.from_user, c.to_user, c.reason) for c in before.changes] == [
        ("Initech", "Rep", "Delivery", "handover"),
        ("Globex", "Rep2", "Rep", "territory"),
        ("Acme Robotics", "Rep", "Delivery", "handover"),
    ]

    with now():
        flows.book_reassign(from_user=world.leaver, to_user=world.rep2, by=world.salesmgr)
        after = selectors.reassignment(period=PERIOD, team=None, viewer=world.salesmgr)
    assert after.orphan_count == 0 and after.orphans == [] and after.orphan_owners == []
    assert [(o.name, o.accounts) for o in after.owners] == [("Delivery", 2), ("Rep", 1), ("Rep2", 1)]
    assert after.changes_by_reason == {"departure": 1, "handover": 2, "territory": 1}
    assert after.changes[0].reason == "departure" and after.changes[0].from_user == "Leaver"


def test_reassignment_team_filter(world):
    with now():
        data = selectors.reassignment(period=PERIOD, team=world.salesmgr.pk, viewer=world.salesmgr)
    assert [(o.name, o.accounts) for o in data.owners] == [("Rep", 1)]
    assert data.changes_by_reason == {"handover": 2, "territory": 1}  # rep is on every change's side
    assert data.orphan_count == 0


def test_early_life_risk_ranks_and_explains(world):
    with now():
        data = selectors.risk(period=PERIOD, team=None, viewer=world.salesmgr)
    assert [(r.account, r.score, r.days_since_acceptance) for r in data.rows] == [
        ("Acme Robotics", 15, 45), ("Initech", 10, 3),
    ]
    acme, initech = data.rows
    assert [(r.code, r.label, r.points) for r in acme.reasons] == [
        ("overdue_checkups", "1 overdue check-up", 3),
        ("satisfaction", "last satisfaction 3/5", 2),
        ("problems_medium", "1 open medium problem", 2),
        ("problems_low", "1 open low problem", 1),
        ("signoff_waiting", "1 stage awaiting sign-off over 5 days", 3),
        ("single_thread", "single-threaded", 4),
    ]
    assert [(r.code, r.points) for r in initech.reasons] == [("overdue_checkups", 6), ("single_thread", 4)]


def test_risk_leaves_out_customers_past_their_first_90_days(world):
    with time_machine.travel(datetime(2027, 4, 20, 12, tzinfo=UTC), tick=False):
        data = selectors.risk(period=PERIOD, team=None, viewer=world.salesmgr)
    assert [r.account for r in data.rows] == ["Initech"]  # Acme was accepted 95 days before


def test_delivery_board(world):
    with now():
        data = selectors.delivery(period=PERIOD, team=None, viewer=world.deliverymgr)
    assert [(h.account, h.deal, h.rep, h.hours_left, h.overdue) for h in data.waiting] == [
        ("Globex", "Globex renewal", "Rep", 22.0, False),  # approved Friday 10:00, two working days
    ]
    assert (data.active_projects, data.completed_in_period) == (2, 0)
    assert [(s.position, s.name, s.projects, s.awaiting_signoff) for s in data.projects_by_stage] == [
        (1, "Kickoff", 2, 1),
    ]
    assert [(c.category, c.raised, c.open, c.resolved, c.median_hours_to_resolve)
            for c in data.problems_by_category] == [
        ("oversold", 1, 0, 1, 48.0), ("misunderstood", 0, 0, 0, None), ("delivery_defect", 1, 1, 0, None),
        ("product_defect", 0, 0, 0, None), ("customer_change", 1, 1, 0, None), ("other", 1, 0, 1, 24.0),
    ]


def test_the_single_thread_rule_matches_crms(rep, rep2, presales, salesmgr, account, deal, other_account):
    """Acme: two contacts, owner and pre-sales on the team. Globex: one contact."""
    flows.deal_win(deal=deal, by=rep)
    crm.account_update(account=other_account, by=rep2, lifecycle="customer")

    def both() -> tuple[set[int], set[int]]:
        customers = Account.objects.filter(lifecycle__in=selectors.CUSTOMER_LIFECYCLES)
        return (set(customers.filter(selectors.single_threaded()).values_list("pk", flat=True)),
                set(customers.single_threaded().values_list("pk", flat=True)))

    assert both() == ({other_account.pk}, {other_account.pk})
    member = account.team.current().get(user=presales)
    crm.team_member_end(member=member, by=rep)  # only the owner left on our side
    assert both() == ({account.pk, other_account.pk}, {account.pk, other_account.pk})
    crm.team_member_add(account=account, by=rep, user=presales, role="presales")
    flows.contact_update(contact=account.contacts.get(first_name="Bruno"), by=rep, is_active=False,
                       left_at=timezone.localdate())
    assert both() == ({account.pk, other_account.pk}, {account.pk, other_account.pk})
