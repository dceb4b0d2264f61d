"""The touchpoints API's actions (complete, skip, cancel, reschedule): happy paths with their events,
400 that names the field and changes nothing, 409 once closed, and mass assignment
(reliability.md 4, 5, 8, 9, 15-19)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from crm.models import Activity
from delivery.models import Problem
from outbox.models import Notice
from tests.scenarios import API, api_for, valid_body
from tests.scenarios import OUTCOME_JSON as OUTCOME
from tests.scenarios import TOUCHPOINT_ACTIONS as ACTIONS
from tests.scenarios import touchpoint_world as world
from touchpoints import services
from touchpoints.models import SurveyResponse, Touchpoint


def snapshot(touchpoint: Touchpoint) -> tuple[Any, ...]:
    """Everything an action could change on the touchpoint."""
    t = Touchpoint.objects.get(pk=touchpoint.pk)
    return (t.state, t.owner_id, t.due_at, t.version, t.closed_at, t.satisfaction, t.as_expected, t.notes,
            t.reason, t.completed_by_id)


# --- Happy paths with their events --------------------------------------------------------------


def test_completing_records_the_outcome_follow_up_and_problem_with_events(project, checkup, delivery):
    follow_at = timezone.now() + timedelta(days=5)
    body = {**OUTCOME, "satisfaction": 2, "as_expected": False, "notes": "Training was too short.",
            "follow_up_at": follow_at.isoformat(), "follow_up_title": "Book a second training day",
            "problem_title": "Training too short", "problem_severity": "high"}

    response = api_for(delivery).post(f"{API}/touchpoints/{checkup.pk}/complete/", body, format="json")

    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["state"], data["satisfaction"], data["as_expected"], data["notes"]) == (
        "done", 2, False, "Training was too short.")
    assert data["completed_by"] == delivery.pk and data["closed_at"] is not None
    fresh = Touchpoint.objects.get(pk=checkup.pk)
    assert fresh.state == "done" and fresh.satisfaction == 2
    follow_up = Touchpoint.objects.get(follow_up_of=fresh)
    assert (follow_up.title, follow_up.owner, follow_up.state) == ("Book a second training day", delivery, "scheduled")
    assert abs(follow_up.due_at - follow_at) < timedelta(seconds=1)
    problem = Problem.objects.get(title="Training too short")
    assert (problem.source, problem.severity, problem.account_id) == ("checkup", "high", project.account_id)
    event = Activity.objects.get(event_type="touchpoints.done", data__touchpoint=checkup.pk)
    assert event.actor == delivery and event.data["satisfaction"] == 2 and event.data["as_expected"] is False
    # Its reminders are no longer owed.
    assert not Notice.objects.filter(target=f"touchpoints.touchpoint:{checkup.pk}", kind="touchpoints.reminder",
                                     state="pending").exists()


@pytest.mark.parametrize("action", ["skip", "cancel"])
def test_skipping_and_cancelling_keep_the_reason_and_write_an_event(action, project, checkup, delivery):
    response = api_for(delivery).post(f"{API}/touchpoints/{checkup.pk}/{action}/",
                                      {"reason": "  The customer is on holiday.  "}, format="json")
    state = {"skip": "skipped", "cancel": "cancelled"}[action]
    assert response.status_code == 200, response.content
    assert response.json()["state"] == state and response.json()["reason"] == "The customer is on holiday."
    fresh = Touchpoint.objects.get(pk=checkup.pk)
    assert fresh.state == state and fresh.closed_at is not None and fresh.satisfaction is None
    event = Activity.objects.get(event_type=f"touchpoints.{state}", data__touchpoint=checkup.pk)
    assert event.actor == delivery and event.body == "The customer is on holiday."
    # Nothing more is owed about it: no reminder, no survey.
    assert not Notice.objects.filter(target=f"touchpoints.touchpoint:{checkup.pk}", state="pending").exists()


def test_rescheduling_moves_the_due_time_and_its_reminders_with_an_event(project, checkup, delivery):
    new_due = (timezone.now() + timedelta(days=20)).replace(microsecond=0)
    before = Touchpoint.objects.get(pk=checkup.pk)

    response = api_for(delivery).post(f"{API}/touchpoints/{checkup.pk}/reschedule/", {"due_at": new_due.isoformat()},
                                      format="json")

    assert response.status_code == 200, response.content
    fresh = Touchpoint.objects.get(pk=checkup.pk)
    assert fresh.due_at == new_due and fresh.version == before.version + 1 and fresh.state == "scheduled"
    assert response.json()["due_at"].startswith(new_due.strftime("%Y-%m-%dT%H:%M:%S"))
    reminder = Notice.objects.get(key=f"touchpoints.reminder:{checkup.pk}:{fresh.version}")
    assert reminder.due_at == new_due and reminder.state == "pending"
    assert Notice.objects.get(key=f"touchpoints.reminder:{checkup.pk}:{before.version}").state == "cancelled"
    assert Notice.objects.get(key=f"touchpoints.survey:{checkup.pk}").due_at == new_due
    event = Activity.objects.get(event_type="touchpoints.rescheduled", data__touchpoint=checkup.pk)
    assert event.actor == delivery and event.data["from"] == before.due_at.isoformat()


# --- 400: bad input names the field and changes nothing -----------------------------------------


@pytest.mark.parametrize(
    ("action", "payload", "fields"),
    [
        ("complete", {"satisfaction": 0, "as_expected": True}, {"satisfaction"}),
        ("complete", {"satisfaction": 6, "as_expected": True}, {"satisfaction"}),
        ("complete", {"satisfaction": "x", "as_expected": True}, {"satisfaction"}),
        ("complete", {"satisfaction": 4.5, "as_expected": True}, {"satisfaction"}),
        ("complete", {"as_expected": True}, {"satisfaction"}),
        ("complete", {"satisfaction": 4}, {"as_expected"}),
        ("complete", {"satisfaction": 4, "as_expected": None}, {"as_expected"}),
        ("complete", {"satisfaction": 4, "as_expected": "perhaps"}, {"as_expected"}),
        ("complete", {**OUTCOME, "notes": "x" * 5001}, {"notes"}),
        ("complete", {**OUTCOME, "notes": "nul \x00 byte"}, {"notes"}),
        ("complete", {**OUTCOME, "follow_up_at": "next week"}, {"follow_up_at"}),
        ("complete", {**OUTCOME, "follow_up_at": "2001-01-01T09:00:00Z"}, {"follow_up_at"}),
        ("complete", {**OUTCOME, "follow_up_title": "x" * 201}, {"follow_up_title"}),
        ("complete", {**OUTCOME, "problem_title": "x" * 201}, {"problem_title"}),
        ("complete", {**OUTCOME, "problem_title": "Broken", "problem_severity": "apocalyptic"}, {"problem_severity"}),
        # Unknown fields are not the outcome: the required ones are still missing.
        ("complete", {"score": 5, "expected": True}, {"satisfaction", "as_expected"}),
        ("complete", [4, True], {"non_field_errors"}),
        ("skip", {}, {"reason"}),
        ("skip", {"reason": "   "}, {"reason"}),
        ("skip", {"reason": "x" * 2001}, {"reason"}),
        ("skip", {"why": "Holiday"}, {"reason"}),
        ("cancel", {"reason": ""}, {"reason"}),
        ("cancel", {"reason": ["a", "list"]}, {"reason"}),
        ("reschedule", {}, {"due_at"}),
        ("reschedule", {"due_at": "tomorrow"}, {"due_at"}),
        ("reschedule", {"due_at": "2027-02-30T09:00:00Z"}, {"due_at"}),
        ("reschedule", {"due_at": 20300101}, {"due_at"}),
        ("reschedule", {"due_at": None}, {"due_at"}),
        ("reschedule", {"when": "2030-01-01T09:00:00Z"}, {"due_at"}),
    ],
)
def test_bad_input_answers_400_naming_the_field_and_changes_nothing(action, payload, fields, project, checkup,
                                                                    delivery):
    before = world()
    response = api_for(delivery).post(f"{API}/touchpoints/{checkup.pk}/{action}/", payload, format="json")
    assert response.status_code == 400, response.content
    assert set(response.json()) == fields, response.json()
    assert world() == before


@pytest.mark.parametrize(
    "due_at",
    [lambda now: now - timedelta(days=2), lambda now: now + timedelta(days=4 * 365),
     lambda now: now.replace(year=2001)],
    ids=["two days ago", "four years ahead", "years ago"],
)
def test_a_due_time_out_of_range_answers_400_and_changes_nothing(due_at, project, checkup, delivery):
    before = world()
    response = api_for(delivery).post(f"{API}/touchpoints/{checkup.pk}/reschedule/",
                                      {"due_at": due_at(timezone.now()).isoformat()}, format="json")
    assert response.status_code == 400 and set(response.json()) == {"due_at"}
    assert "between yesterday and three years from now" in response.json()["due_at"][0]
    assert world() == before


def test_unknown_fields_next_to_a_valid_outcome_are_ignored(project, checkup, delivery):
    response = api_for(delivery).post(f"{API}/touchpoints/{checkup.pk}/complete/",
                                      {**OUTCOME, "colour": "blue", "priority": 9}, format="json")
    assert response.status_code == 200 and "colour" not in response.json()


def test_the_api_takes_json_only(project, checkup, delivery):
    before = world()
    response = api_for(delivery).post(f"{API}/touchpoints/{checkup.pk}/complete/",
                                      "satisfaction=4&as_expected=true",
                                      content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert world() == before


# --- 409: a closed touchpoint changes no more ---------------------------------------------------


@pytest.mark.parametrize("closed_by", ["complete", "cancel", "skip"])
@pytest.mark.parametrize("action", ACTIONS)
def test_an_action_on_a_closed_touchpoint_answers_409_and_changes_nothing(closed_by, action, project, checkup,
                                                                         delivery):
    client = api_for(delivery)
    assert client.post(f"{API}/touchpoints/{checkup.pk}/{closed_by}/", valid_body(closed_by),
                       format="json").status_code == 200
    before, before_touchpoint = world(), snapshot(checkup)

    response = client.post(f"{API}/touchpoints/{checkup.pk}/{action}/", valid_body(action), format="json")

    assert response.status_code == 409, response.content
    assert response.json()["detail"]
    assert snapshot(checkup) == before_touchpoint
    assert world() == before


def test_a_missed_touchpoint_cannot_be_completed_late(project, checkup, delivery):
    services.touchpoint_mark_missed(checkup.pk, checkup.due_at + timedelta(days=3))
    before = world()
    response = api_for(delivery).post(f"{API}/touchpoints/{checkup.pk}/complete/", OUTCOME, format="json")
    assert response.status_code == 409 and world() == before


# --- Mass assignment ----------------------------------------------------------------------------


FORGED = {"state": "cancelled", "owner": 1, "closed_at": "2001-01-01T00:00:00Z", "completed_by": 1,
          "account": 1, "version": 99, "title": "Forged", "kind": "renewal", "contact": 1,
          "survey_response": {"satisfaction": 5}, "reason": "Forged reason"}


def test_state_owner_and_dates_cannot_be_mass_assigned_through_complete(project, checkup, delivery, rep2):
    forged = {**FORGED, "owner": rep2.pk, "completed_by": rep2.pk}
    response = api_for(delivery).post(f"{API}/touchpoints/{checkup.pk}/complete/", {**OUTCOME, **forged},
                                      format="json")
    assert response.status_code == 200, response.content
    fresh = Touchpoint.objects.get(pk=checkup.pk)
    assert (fresh.state, fresh.owner, fresh.completed_by, fresh.account_id) == ("done", delivery, delivery,
                                                                                checkup.account_id)
    assert fresh.closed_at is not None and fresh.closed_at.year == timezone.now().year
    assert (fresh.title, fresh.kind, fresh.version, fresh.contact_id, fresh.reason) == (
        checkup.title, "checkup_call", checkup.version, checkup.contact_id, "")
    assert not SurveyResponse.objects.exists()


@pytest.mark.parametrize("action", ["skip", "cancel", "reschedule"])
def test_state_owner_and_dates_cannot_be_mass_assigned_through_the_other_actions(action, project, checkup, delivery,
                                                                                 rep2):
    body = {**FORGED, "owner": rep2.pk, "completed_by": rep2.pk, "satisfaction": 1, "as_expected": False,
            **valid_body(action)}
    if action == "reschedule":
        body["state"] = "done"
    response = api_for(delivery).post(f"{API}/touchpoints/{checkup.pk}/{action}/", body, format="json")
    assert response.status_code == 200, response.content
    fresh = Touchpoint.objects.get(pk=checkup.pk)
    expected_state = {"skip": "skipped", "cancel": "cancelled", "reschedule": "scheduled"}[action]
    assert (fresh.state, fresh.owner, fresh.completed_by, fresh.satisfaction, fresh.as_expected) == (
        expected_state, delivery, None, None, None)
    assert fresh.title == checkup.title and fresh.account_id == checkup.account_id
    if action == "reschedule":
        assert fresh.closed_at is None and fresh.version == checkup.version + 1
    else:
        assert fresh.closed_at is not None and fresh.closed_at.year == timezone.now().year
        assert fresh.reason == "The customer asked to wait."
