"""The delivery dashboard's figures on the hand-built history (tests/insights_world.py): handovers
waiting with their deadlines, projects by current stage, problems by category."""

from __future__ import annotations

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
