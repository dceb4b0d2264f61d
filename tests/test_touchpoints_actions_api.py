"""The touchpoints API: list, retrieve and the four actions (complete, skip, cancel, reschedule),
the agenda templates; 404 for what a user cannot see, 403 for the wrong role, 400 that names the
field and changes nothing, 409 on a closed touchpoint with nothing changed, mass assignment,
events, the customer's IP never in an answer, and query budgets on the lists (reliability.md
1-5, 16-18, 25, 29)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from crm import services as crm_services
from crm.models import Activity
from delivery.models import Problem
from outbox.models import Notice
from tests.scenarios import accept_deal, api_for, make_user
from touchpoints import services
from touchpoints.models import AgendaTemplate, SurveyResponse, Touchpoint

API = "/api/v1"
ACTIONS = ["complete", "skip", "cancel", "reschedule"]
OUTCOME = {"satisfaction": 4, "as_expected": True, "notes": "Went well."}


def valid_body(action: str) -> dict[str, Any]:
    if action == "complete":
        return dict(OUTCOME)
    if action == "reschedule":
        return {"due_at": (timezone.now() + timedelta(days=3)).isoformat()}
    return {"reason": "The customer asked to wait."}


def snapshot(touchpoint: Touchpoint) -> tuple[Any, ...]:
    """Everything an action could change on the touchpoint."""
    t = Touchpoint.objects.get(pk=touchpoint.pk)
    return (t.state, t.owner_id, t.due_at, t.version, t.closed_at, t.satisfaction, t.as_expected, t.notes,
            t.reason, t.completed_by_id)


def world() -> dict[str, Any]:
    """Everything around the touchpoints an action could write."""
    return {
        "touchpoints": list(Touchpoint.objects.order_by("pk").values_list(
            "pk", "state", "owner_id", "due_at", "version", "closed_at", "satisfaction", "notes", "reason")),
        "events": Activity.objects.count(),
        "problems": Problem.objects.count(),
        "notices": list(Notice.objects.order_by("pk").values_list("pk", "state", "due_at")),
    }


def results(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.content
    return response.json()["results"]  # type: ignore[no-any-return]


def ids(response: Any) -> set[int]:
    return {row["id"] for row in results(response)}


@pytest.fixture
def checkup(project: Any) -> Touchpoint:
    """The day-7 check-up call, owned by the delivery owner (`delivery`), with a survey."""
    return Touchpoint.objects.get(account=project.account, kind="checkup_call")


@pytest.fixture
def thank_you(project: Any) -> Touchpoint:
    """The day-0 thank-you note, owned by the rep."""
    return Touchpoint.objects.get(account=project.account, kind="thank_you")


def their_touchpoints(other_account: Any, rep2: Any, salesmgr: Any, deliverymgr: Any) -> list[Touchpoint]:
    """An agenda on rep2's account, run by another delivery team member."""
    deal = crm_services.deal_create(account=other_account, by=rep2, name="Globex roll-out",
                                    line_items=[{"name": "Licences", "quantity": 5, "unit_price": "100"}])
    owner = make_user("delivery2", "Delivery team member")
    accept_deal(deal, rep=rep2, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=owner)
    return list(Touchpoint.objects.filter(account=other_account))


# --- List and retrieve --------------------------------------------------------------------------


def test_the_list_holds_only_touchpoints_on_accounts_the_user_sees(
    project, rep, rep2, delivery, outsider, deliverymgr, other_account, salesmgr
):
    ours = set(Touchpoint.objects.filter(account=project.account).values_list("pk", flat=True))
    theirs = {t.pk for t in their_touchpoints(other_account, rep2, salesmgr, deliverymgr)}
    assert len(ours) == 5 and len(theirs) == 5

    assert ids(api_for(rep).get(f"{API}/touchpoints/")) == ours
    assert ids(api_for(delivery).get(f"{API}/touchpoints/")) == ours
    assert ids(api_for(rep2).get(f"{API}/touchpoints/")) == theirs
    assert ids(api_for(outsider).get(f"{API}/touchpoints/")) == set()
    assert ids(api_for(deliverymgr).get(f"{API}/touchpoints/", {"page_size": 100})) == ours | theirs
    # A filter only narrows: asking for rep2's account as rep shows nothing, and counts nothing.
    response = api_for(rep).get(f"{API}/touchpoints/", {"account": other_account.pk})
    assert results(response) == [] and response.json()["count"] == 0
    assert APIClient().get(f"{API}/touchpoints/").status_code == 401


def test_the_list_filters_by_owner_account_state_kind_due_time_and_mine(project, rep, delivery, thank_you, checkup):
    client = api_for(rep)
    everything = ids(client.get(f"{API}/touchpoints/"))
    assert ids(client.get(f"{API}/touchpoints/", {"mine": "true"})) == {thank_you.pk}
    assert ids(api_for(delivery).get(f"{API}/touchpoints/", {"mine": "true"})) == everything - {thank_you.pk}
    assert ids(client.get(f"{API}/touchpoints/", {"mine": "false"})) == everything
    assert ids(client.get(f"{API}/touchpoints/", {"owner": rep.pk})) == {thank_you.pk}
    assert ids(client.get(f"{API}/touchpoints/", {"account": project.account_id})) == everything
    assert ids(client.get(f"{API}/touchpoints/", {"kind": "checkup_call"})) == {checkup.pk}
    services.touchpoint_skip(touchpoint=checkup, by=delivery, reason="Covered in the training call.")
    assert ids(client.get(f"{API}/touchpoints/", {"state": "skipped"})) == {checkup.pk}
    assert ids(client.get(f"{API}/touchpoints/", {"state": "scheduled"})) == everything - {checkup.pk}
    window = {"due_after": (checkup.due_at - timedelta(hours=1)).isoformat(),
              "due_before": (checkup.due_at + timedelta(hours=1)).isoformat()}
    assert ids(client.get(f"{API}/touchpoints/", window)) == {checkup.pk}
    rows = results(client.get(f"{API}/touchpoints/"))
    assert [row["due_at"] for row in rows] == sorted(row["due_at"] for row in rows)


@pytest.mark.parametrize(
    ("params", "field"),
    [({"state": "finished"}, "state"), ({"kind": "lunch"}, "kind"), ({"due_after": "next week"}, "due_after"),
     ({"due_before": "2027-13-45"}, "due_before"), ({"owner": "me"}, "owner"), ({"account": "1.5"}, "account"),
     # Valid ISO 8601, but outside years 1-9999 once in UTC.
     ({"due_after": "0001-01-01T00:00:00+05:00"}, "due_after"), ({"due_before": "9999-12-31T23:59:59-05:00"},
                                                                  "due_before")],
)
def test_a_bad_filter_answers_400_naming_it(project, rep, params, field):
    response = api_for(rep).get(f"{API}/touchpoints/", params)
    assert response.status_code == 400 and field in response.json()


def test_a_due_time_filter_with_an_offset_postgresql_refuses_compares_the_same_moment_in_utc(project, rep, checkup):
    # ISO 8601 allows offsets up to 23:59; PostgreSQL refuses beyond 15:59 (the fuzzer found a 500).
    offset = timedelta(hours=-16, minutes=-41)
    local = (checkup.due_at + offset).replace(tzinfo=None).isoformat() + "-16:41"
    client = api_for(rep)
    assert checkup.pk in ids(client.get(f"{API}/touchpoints/", {"due_after": local}))
    assert checkup.pk not in ids(client.get(f"{API}/touchpoints/", {"due_before": local}))
    assert ids(client.get(f"{API}/touchpoints/", {"due_after": "1124-12-15T22:36:56.28-16:41"}))


def test_retrieve_shows_the_outcome_and_the_survey_summary_without_the_customers_ip(project, checkup, delivery, rep):
    services.touchpoint_complete(touchpoint=checkup, by=delivery, satisfaction=3, as_expected=True,
                                 notes="Call went fine.")
    link, _raw = services.survey_link_issue(checkup)
    answer = services.survey_answer(link=link, satisfaction=1, as_expected=False, comment="The robots stopped.",
                                    is_complaint=True, ip="198.51.100.77", user_agent="Customer browser 1.0")
    assert answer.problem is not None

    response = api_for(rep).get(f"{API}/touchpoints/{checkup.pk}/")

    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["state"], data["satisfaction"], data["as_expected"], data["notes"]) == ("done", 3, True,
                                                                                        "Call went fine.")
    assert data["completed_by"] == delivery.pk and data["closed_at"] is not None
    assert data["owner"] == delivery.pk and data["account"] == project.account_id
    assert data["survey_response"] == {
        "id": answer.pk, "satisfaction": 1, "as_expected": False, "is_complaint": True,
        "comment": "The robots stopped.", "problem": answer.problem.pk,
        "created_at": data["survey_response"]["created_at"],
    }
    text = response.content.decode()
    assert "198.51.100.77" not in text and "Customer browser" not in text and "ip_address" not in text
    # The list carries the same summary.
    [row] = [r for r in results(api_for(rep).get(f"{API}/touchpoints/")) if r["id"] == checkup.pk]
    assert row["survey_response"]["problem"] == answer.problem.pk and "198.51.100.77" not in str(row)
    # Without an answer, the summary is null.
    other = Touchpoint.objects.get(account=project.account, kind="training_check")
    assert api_for(rep).get(f"{API}/touchpoints/{other.pk}/").json()["survey_response"] is None


def test_touchpoints_are_not_created_edited_or_deleted_through_the_api(project, checkup, deliverymgr):
    client = api_for(deliverymgr)
    before = world()
    assert client.post(f"{API}/touchpoints/", {"title": "Forged", "account": project.account_id},
                       format="json").status_code == 405
    for method in ("put", "patch", "delete"):
        assert getattr(client, method)(f"{API}/touchpoints/{checkup.pk}/", {"title": "Renamed"},
                                       format="json").status_code == 405
    for action in ACTIONS:
        assert client.get(f"{API}/touchpoints/{checkup.pk}/{action}/").status_code == 405
    assert world() == before


# --- 404 for what the user cannot see -----------------------------------------------------------


@pytest.mark.parametrize("persona", ["rep2", "outsider"])
def test_another_accounts_touchpoint_answers_404_for_read_and_every_action(request, persona, project, checkup):
    user = request.getfixturevalue(persona)
    client = api_for(user)
    before = world()
    assert client.get(f"{API}/touchpoints/{checkup.pk}/").status_code == 404
    for action in ACTIONS:
        response = client.post(f"{API}/touchpoints/{checkup.pk}/{action}/", valid_body(action), format="json")
        assert response.status_code == 404, (action, response.content)
        # The same answer as for a touchpoint that does not exist.
        assert client.post(f"{API}/touchpoints/999999/{action}/", valid_body(action),
                           format="json").status_code == 404
    assert world() == before


@pytest.mark.parametrize("bad_id", ["abc", "0.5", "99999999999999999999999", "-1"])
def test_a_malformed_id_answers_404(project, deliverymgr, bad_id):
    client = api_for(deliverymgr)
    assert client.get(f"{API}/touchpoints/{bad_id}/").status_code == 404
    assert client.post(f"{API}/touchpoints/{bad_id}/complete/", OUTCOME, format="json").status_code == 404
    assert client.get(f"{API}/agendas/{bad_id}/").status_code == 404


# --- 403 for the wrong role ---------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["rep", "presales"])
@pytest.mark.parametrize("action", ACTIONS)
def test_the_account_team_sees_but_only_the_owner_and_managers_change_a_touchpoint(
    request, persona, action, project, checkup
):
    user = request.getfixturevalue(persona)
    client = api_for(user)
    before = world()
    assert client.get(f"{API}/touchpoints/{checkup.pk}/").status_code == 200

    response = client.post(f"{API}/touchpoints/{checkup.pk}/{action}/", valid_body(action), format="json")
    # The role is checked before the body: a bad body still answers 403.
    bad = client.post(f"{API}/touchpoints/{checkup.pk}/{action}/", {}, format="json")

    assert response.status_code == 403, response.content
    assert bad.status_code == 403
    assert world() == before


def test_the_rep_works_their_own_thank_you_note(project, rep, thank_you):
    response = api_for(rep).post(f"{API}/touchpoints/{thank_you.pk}/complete/", OUTCOME, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "done" and response.json()["completed_by"] == rep.pk


def test_a_thank_you_note_needs_no_satisfaction_score(project, rep, thank_you):
    response = api_for(rep).post(f"{API}/touchpoints/{thank_you.pk}/complete/", {"as_expected": True}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["state"], response.json()["satisfaction"]) == ("done", None)


def test_a_check_up_without_a_satisfaction_score_is_refused(project, checkup, delivery):
    before = world()
    response = api_for(delivery).post(f"{API}/touchpoints/{checkup.pk}/complete/", {"as_expected": True}, format="json")
    assert response.status_code == 400 and set(response.json()) == {"satisfaction"}
    assert world() == before


@pytest.mark.parametrize("persona", ["salesmgr", "deliverymgr", "admin_user"])
def test_managers_work_any_touchpoint(request, persona, project, checkup):
    user = request.getfixturevalue(persona)
    response = api_for(user).post(f"{API}/touchpoints/{checkup.pk}/skip/", {"reason": "Merged into review."},
                                  format="json")
    assert response.status_code == 200, response.content
    assert Touchpoint.objects.get(pk=checkup.pk).state == "skipped"


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


# --- Agendas ------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["rep", "presales", "delivery", "salesmgr", "deliverymgr", "admin_user"])
def test_staff_read_the_agenda_templates_with_their_steps_in_order(request, persona):
    client = api_for(request.getfixturevalue(persona))
    rows = results(client.get(f"{API}/agendas/"))
    assert [row["name"] for row in rows] == ["30-day service agenda", "Quarterly follow-on"]
    service = rows[0]
    assert [(s["offset_days"], s["kind"], s["sends_survey"]) for s in service["steps"]] == [
        (0, "thank_you", False), (1, "delivery_confirmation", False), (7, "checkup_call", True),
        (14, "training_check", False), (30, "review_meeting", True),
    ]
    assert [s["position"] for s in service["steps"]] == [1, 2, 3, 4, 5]
    detail = client.get(f"{API}/agendas/{service['id']}/")
    assert detail.status_code == 200 and detail.json() == service
    assert client.get(f"{API}/agendas/", {"is_active": "false"}).json()["count"] == 0


def test_agendas_are_read_only_and_for_staff_with_a_role(db, rep):
    template = AgendaTemplate.objects.get(name="30-day service agenda")
    nobody = User.objects.create_user("norole", password="keepwarm-test-pw")
    assert api_for(nobody).get(f"{API}/agendas/").status_code == 403
    assert api_for(nobody).get(f"{API}/agendas/{template.pk}/").status_code == 403
    assert APIClient().get(f"{API}/agendas/").status_code == 401
    client = api_for(rep)
    assert client.post(f"{API}/agendas/", {"name": "Mine"}, format="json").status_code == 405
    for method in ("put", "patch", "delete"):
        assert getattr(client, method)(f"{API}/agendas/{template.pk}/", {"name": "x"}, format="json").status_code == 405
    assert client.get(f"{API}/agendas/999999/").status_code == 404
    assert AgendaTemplate.objects.get(pk=template.pk).name == "30-day service agenda"


# --- Query budgets ------------------------------------------------------------------------------


def _grow(n: int, *, account: Any, rep: Any, salesmgr: Any, deliverymgr: Any, delivery: Any) -> None:
    """Accepted deals on rep's account until there are `n`, each with its agenda; every
    accepted deal's check-up is done and its customer answered the survey (with a problem)."""
    while Touchpoint.objects.filter(kind="checkup_call").count() < n:
        i = Touchpoint.objects.filter(kind="checkup_call").count()
        deal = crm_services.deal_create(account=account, by=rep, name=f"Deal {i}",
                                        line_items=[{"name": "Arm", "quantity": 1, "unit_price": "10"}])
        project = accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)
        checkup = Touchpoint.objects.get(project=project, kind="checkup_call")
        services.touchpoint_complete(touchpoint=checkup, by=delivery, satisfaction=4, as_expected=True)
        link, _raw = services.survey_link_issue(checkup)
        services.survey_answer(link=link, satisfaction=2, as_expected=True, ip="203.0.113.1", user_agent="x")


def test_the_touchpoint_list_takes_a_fixed_number_of_queries(
    account, rep, salesmgr, deliverymgr, delivery, django_assert_max_num_queries
):
    people = {"account": account, "rep": rep, "salesmgr": salesmgr, "deliverymgr": deliverymgr, "delivery": delivery}
    counts: dict[tuple[int, str], int] = {}
    for n in (2, 8):
        _grow(n, **people)
        # The rep and the delivery owner see them through the account team; the manager sees all.
        for user in (rep, delivery, salesmgr):
            client = api_for(User.objects.get(pk=user.pk))  # a fresh user: no roles cached on it
            with django_assert_max_num_queries(5), CaptureQueriesContext(connection) as queries:
                response = client.get(f"{API}/touchpoints/", {"page_size": 200})
            rows = results(response)
            assert len(rows) == 5 * n and sum(1 for r in rows if r["survey_response"]) == n
            counts[(n, user.get_username())] = len(queries)
    for name in ("rep", "delivery", "salesmgr"):
        assert counts[(2, name)] == counts[(8, name)], counts


def test_the_agenda_list_takes_a_fixed_number_of_queries(db, rep, django_assert_max_num_queries):
    from touchpoints.models import AgendaStep

    counts = []
    for n in (2, 8):
        while AgendaTemplate.objects.count() < n:
            template = AgendaTemplate.objects.create(name=f"Agenda {AgendaTemplate.objects.count()}")
            for position in (1, 2, 3):
                AgendaStep.objects.create(template=template, position=position, offset_days=position,
                                          kind="checkup_call", objectives="Ask.")
        client = api_for(User.objects.get(pk=rep.pk))  # a fresh user: no roles cached on it
        with django_assert_max_num_queries(4), CaptureQueriesContext(connection) as queries:
            assert len(results(client.get(f"{API}/agendas/"))) == n
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_an_action_takes_a_bounded_number_of_queries(project, checkup, delivery, django_assert_max_num_queries):
    with django_assert_max_num_queries(25):
        response = api_for(delivery).post(f"{API}/touchpoints/{checkup.pk}/complete/", OUTCOME, format="json")
    assert response.status_code == 200
