"""The early-life risk dashboard on the hand-built history (tests/insights_world.py): who is in
early life, the ranking, and the reasons on the page. The score itself, input by input, is in
tests/test_insights_risk_score.py."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from insights import selectors
from insights.selectors import Period
from tests.insights_world import END, START, World, now, page_tables, world_for
from tests.scenarios import client_for

# Its fixed dates come after its fixtures only if the fixtures are made before them (tests.conftest).
pytestmark = pytest.mark.usefixtures("made_before_the_fixed_dates")


PERIOD = Period(start=START, end=END)


@pytest.fixture
def world(request: pytest.FixtureRequest) -> World:
    return world_for(request)


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


def test_the_risk_page_says_why(world):
    with now():
        page = page_tables(client_for(world.salesmgr).get("/insights/risk/"))  # logged in "now"
    assert [row[1] for row in page["risk"]] == ["Acme Robotics", "Initech"]
    acme = page["risk"][0]
    assert acme[5] == "15"
    assert "1 overdue check-up +3" in acme[6] and "single-threaded +4" in acme[6]
