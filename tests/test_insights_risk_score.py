"""The early-life risk score as a pure function of one account's inputs
(insights.selectors.early_life): each reason's points and label, their sum, and the edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from insights.selectors import RiskInputs, early_life_score, last_satisfaction

DAYS = 5  # the sign-off reminder delay the labels name


def score(**inputs: Any) -> tuple[int, list[tuple[str, str, int]]]:
    total, reasons = early_life_score(RiskInputs(**inputs), signoff_reminder_days=DAYS)
    return total, [(r.code, r.label, r.points) for r in reasons]


def test_nothing_to_worry_about_scores_zero_with_no_reason():
    assert score() == (0, [])


@pytest.mark.parametrize(("n", "label"), [(1, "1 overdue check-up"), (2, "2 overdue check-ups")])
def test_each_overdue_checkup_costs_three(n, label):
    assert score(overdue_checkups=n) == (3 * n, [("overdue_checkups", label, 3 * n)])


@pytest.mark.parametrize(("heard", "points"), [(1, 10), (2, 6), (3, 2)])
def test_a_low_last_satisfaction_costs_more_the_lower_it_is(heard, points):
    assert score(last_satisfaction=heard) == (points, [("satisfaction", f"last satisfaction {heard}/5", points)])


@pytest.mark.parametrize("heard", [4, 5, None])
def test_a_good_satisfaction_or_none_heard_costs_nothing(heard):
    assert score(last_satisfaction=heard) == (0, [])


@pytest.mark.parametrize(("severity", "points"), [("critical", 8), ("high", 5), ("medium", 2), ("low", 1)])
def test_each_open_problem_costs_by_severity(severity, points):
    assert score(open_problems={severity: 1}) == (points, [(f"problems_{severity}", f"1 open {severity} problem",
                                                            points)])
    assert score(open_problems={severity: 3})[0] == 3 * points


def test_problems_are_listed_worst_first_and_a_zero_count_is_no_reason():
    total, reasons = score(open_problems={"low": 2, "critical": 1, "medium": 0})
    assert total == 8 + 2
    assert reasons == [("problems_critical", "1 open critical problem", 8), ("problems_low", "2 open low problems", 2)]


def test_each_stage_waiting_for_sign_off_costs_three_and_names_the_delay():
    assert score(stages_waiting_signoff=1) == (3, [("signoff_waiting", "1 stage awaiting sign-off over 5 days", 3)])
    total, reasons = early_life_score(RiskInputs(stages_waiting_signoff=2), signoff_reminder_days=1)
    assert (total, reasons[0].label) == (6, "2 stages awaiting sign-off over 1 day")


def test_a_single_thread_costs_four():
    assert score(single_threaded=True) == (4, [("single_thread", "single-threaded", 4)])


def test_the_score_is_the_sum_of_its_reasons_in_a_fixed_order():
    total, reasons = score(overdue_checkups=1, last_satisfaction=3, open_problems={"medium": 1, "low": 1},
                           stages_waiting_signoff=1, single_threaded=True)
    assert [code for code, _, _ in reasons] == [
        "overdue_checkups", "satisfaction", "problems_medium", "problems_low", "signoff_waiting", "single_thread",
    ]
    assert total == sum(points for _, _, points in reasons) == 3 + 2 + 2 + 1 + 3 + 4


T = datetime(2027, 2, 14, 10, tzinfo=UTC)


def test_the_last_satisfaction_heard_is_the_latest_of_the_answer_and_the_recorded_score():
    assert last_satisfaction(2, T, 3, T + timedelta(days=1)) == 3  # the customer's later answer
    assert last_satisfaction(2, T + timedelta(days=1), 3, T) == 2  # a later check-up's score
    assert last_satisfaction(2, T, 3, T) == 3  # at the same moment, the customer's own answer
    assert last_satisfaction(2, T, None, None) == 2
    assert last_satisfaction(None, None, 4, T) == 4
    assert last_satisfaction(None, None, None, None) is None
