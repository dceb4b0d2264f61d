"""The touchpoint pages that close a touchpoint: completing it with the outcome, skipping,
cancelling and rescheduling it."""

from __future__ import annotations

import zoneinfo
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from crm.models import Activity, UserProfile
from delivery.models import Problem
from tests.scenarios import agenda_touchpoint as checkup
from tests.scenarios import client_for
from tests.scenarios import touchpoint_due as due
from tests.scenarios import touchpoints_url as url
from touchpoints import services
from touchpoints.models import Touchpoint

pytestmark = pytest.mark.django_db


HTMX: dict[str, Any] = {"HTTP_HX_REQUEST": "true"}


OUTCOME = {"satisfaction": "4", "as_expected": "yes", "notes": "Happy with the training."}


def state_of(touchpoint: Touchpoint) -> str:
    return Touchpoint.objects.get(pk=touchpoint.pk).state


# --- Completing with the outcome ------------------------------------------------------------


def test_completing_in_place_swaps_the_row_to_its_done_state(project, delivery) -> None:
    touchpoint = checkup()

    response = client_for(delivery).post(url("touchpoint_complete", touchpoint.pk), OUTCOME, **HTMX)

    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "touchpoints/_row.html"
    body = response.content.decode()
    assert body.startswith('<article class="tp-row tp-done') and "<html" not in body
    assert f'id="touchpoint-{touchpoint.pk}"' in body and "Satisfaction 4/5" in body
    assert "Record outcome" not in body and "Outcome recorded: 4/5." in body
    touchpoint.refresh_from_db()
    assert (touchpoint.state, touchpoint.satisfaction, touchpoint.as_expected) == ("done", 4, True)
    assert touchpoint.notes == "Happy with the training." and touchpoint.completed_by == delivery
    assert Activity.objects.filter(event_type="touchpoints.done", data__touchpoint=touchpoint.pk).exists()


def test_completing_without_htmx_redirects_to_the_row_with_a_message(project, delivery) -> None:
    touchpoint = checkup()
    client = client_for(delivery)

    response = client.post(url("touchpoint_complete", touchpoint.pk), {**OUTCOME, "as_expected": "no"})

    assert response.status_code == 302
    assert response["Location"] == url("my_week") + f"#touchpoint-{touchpoint.pk}"
    assert Touchpoint.objects.get(pk=touchpoint.pk).as_expected is False
    assert "Outcome recorded" in client.get(response["Location"]).content.decode()


def test_a_foreign_next_url_is_ignored_and_ours_is_kept(project, delivery, deliverymgr) -> None:
    touchpoint = checkup()
    response = client_for(delivery).post(url("touchpoint_complete", touchpoint.pk),
                                         {**OUTCOME, "next": "https://evil.example/"})
    assert response["Location"] == url("my_week") + f"#touchpoint-{touchpoint.pk}"
    other = checkup("training_check")
    week = f"{url('my_week')}?user={delivery.pk}"
    response = client_for(deliverymgr).post(url("touchpoint_skip", other.pk), {"reason": "On leave", "next": week})
    assert response["Location"] == f"{week}#touchpoint-{other.pk}"


def test_completing_with_a_follow_up_and_a_problem_creates_both(project, delivery, account) -> None:
    touchpoint = checkup()
    follow = timezone.localtime(timezone.now() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")

    response = client_for(delivery).post(url("touchpoint_complete", touchpoint.pk), {
        **OUTCOME, "satisfaction": "2", "as_expected": "no", "follow_up_at": follow,
        "follow_up_title": "Book a second training day", "problem_title": "Training too short",
        "problem_severity": "high",
    }, **HTMX)

    assert response.status_code == 200
    assert "Follow-up scheduled" in response.content.decode() and "Training too short" in response.content.decode()
    follow_up = Touchpoint.objects.get(follow_up_of=touchpoint)
    assert follow_up.title == "Book a second training day" and follow_up.owner == delivery
    assert timezone.localtime(follow_up.due_at).strftime("%Y-%m-%dT%H:%M") == follow
    problem = Problem.objects.get(account=account, title="Training too short")
    assert (problem.source, problem.severity) == ("checkup", "high")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"satisfaction": "0"}, "satisfaction"),
        ({"satisfaction": "6"}, "satisfaction"),
        ({"satisfaction": "x"}, "satisfaction"),
        ({"satisfaction": ""}, "satisfaction"),
        ({"as_expected": ""}, "as_expected"),
        ({"as_expected": "maybe"}, "as_expected"),
        ({"notes": "x" * 5001}, "notes"),
        ({"problem_title": "Broken", "problem_severity": "apocalyptic"}, "problem_severity"),
        ({"follow_up_title": "Call again"}, "follow_up_at"),
        ({"follow_up_at": "next tuesday"}, "follow_up_at"),
        ({"follow_up_at": "2001-01-01T10:00"}, "follow_up_at"),
        ({"problem_title": "x" * 201}, "problem_title"),
    ],
)
def test_bad_outcome_input_names_the_field_in_the_row_and_saves_nothing(project, delivery, data, field) -> None:
    touchpoint = checkup()
    events = Activity.objects.count()

    response = client_for(delivery).post(url("touchpoint_complete", touchpoint.pk), {**OUTCOME, **data}, **HTMX)

    assert response.status_code == 400
    body = response.content.decode()
    assert body.startswith("<article") and f'id="touchpoint-{touchpoint.pk}"' in body
    assert f'id="tp{touchpoint.pk}_outcome_{field}_error"' in body
    assert '<details class="tp-action" open>' in body  # the form stays open with its messages
    assert state_of(touchpoint) == "scheduled"
    assert Activity.objects.count() == events
    assert not Touchpoint.objects.filter(follow_up_of=touchpoint).exists()
    assert not Problem.objects.exists()


def test_a_thank_you_note_is_recorded_without_a_satisfaction_score(project, rep) -> None:
    note = Touchpoint.objects.get(kind="thank_you")
    client = client_for(rep)
    week = client.get(url("my_week")).content.decode()
    assert "Customer satisfaction (optional)" in week

    response = client.post(url("touchpoint_complete", note.pk), {"as_expected": "yes", "notes": "Sent."}, **HTMX)

    assert response.status_code == 200, response.content
    note.refresh_from_db()
    assert (note.state, note.satisfaction, note.as_expected) == ("done", None, True)
    assert "Satisfaction" not in response.content.decode().split('class="tp-outcome"')[1].split("</div>")[0]
    assert Activity.objects.filter(event_type="touchpoints.done").exists()


def test_a_check_up_still_demands_a_satisfaction_score(project, delivery) -> None:
    touchpoint = checkup()
    response = client_for(delivery).post(url("touchpoint_complete", touchpoint.pk), {"as_expected": "yes"}, **HTMX)
    assert response.status_code == 400
    assert "Choose a satisfaction score from 1 to 5." in response.content.decode()
    assert state_of(touchpoint) == "scheduled"


def test_bad_input_without_htmx_shows_the_row_on_its_own_page(project, delivery) -> None:
    touchpoint = checkup()
    response = client_for(delivery).post(url("touchpoint_complete", touchpoint.pk), {"satisfaction": "9"})
    assert response.status_code == 400
    assert "<html" in response.content.decode() and "Choose a satisfaction score from 1 to 5." in response.content.decode()
    assert "Back to the week" in response.content.decode()
    assert state_of(touchpoint) == "scheduled"


def test_completing_a_done_touchpoint_is_a_conflict_and_changes_nothing(project, delivery) -> None:
    touchpoint = checkup()
    services.touchpoint_complete(touchpoint=touchpoint, by=delivery, satisfaction=5, as_expected=True, notes="First")

    response = client_for(delivery).post(url("touchpoint_complete", touchpoint.pk),
                                         {**OUTCOME, "satisfaction": "1"}, **HTMX)

    assert response.status_code == 409
    assert "already done" in response.content.decode() and "Satisfaction 5/5" in response.content.decode()
    touchpoint.refresh_from_db()
    assert (touchpoint.satisfaction, touchpoint.notes) == (5, "First")
    for action, data in (("touchpoint_skip", {"reason": "r"}), ("touchpoint_cancel", {"reason": "r"}),
                         ("touchpoint_reschedule", {"due_at": "2099-01-01T10:00"})):
        assert client_for(delivery).post(url(action, touchpoint.pk), data).status_code == 409
    assert state_of(touchpoint) == "done"


def test_another_reps_touchpoint_is_not_found(project, rep2, outsider) -> None:
    touchpoint = checkup()
    for user in (rep2, outsider):
        client = client_for(user)
        assert client.post(url("touchpoint_complete", touchpoint.pk), OUTCOME).status_code == 404
        assert client.post(url("touchpoint_skip", touchpoint.pk), {"reason": "No"}).status_code == 404
        assert client.post(url("touchpoint_cancel", touchpoint.pk), {"reason": "No"}).status_code == 404
        assert client.post(url("touchpoint_reschedule", touchpoint.pk), {"due_at": "2099-01-01T10:00"}).status_code == 404
    assert client_for(rep2).post(url("touchpoint_complete", 999999), OUTCOME).status_code == 404
    assert state_of(touchpoint) == "scheduled"


def test_someone_else_on_the_team_may_see_but_not_complete_it(project, rep, presales, delivery, deliverymgr) -> None:
    touchpoint = checkup()  # delivery's; rep and presales are on the account team
    for user in (rep, presales):
        assert client_for(user).post(url("touchpoint_complete", touchpoint.pk), OUTCOME).status_code == 403
        assert client_for(user).post(url("touchpoint_skip", touchpoint.pk), {"reason": "x"}).status_code == 403
    assert state_of(touchpoint) == "scheduled"
    # The delivery owner's manager may.
    assert client_for(deliverymgr).post(url("touchpoint_complete", touchpoint.pk), OUTCOME, **HTMX).status_code == 200
    assert Touchpoint.objects.get(pk=touchpoint.pk).completed_by == deliverymgr


def test_the_rows_actions_show_only_to_who_may_act(project, rep, delivery, deliverymgr) -> None:
    thank_you = Touchpoint.objects.get(kind="thank_you")
    confirmation = checkup("delivery_confirmation")
    assert f'action="{url("touchpoint_complete", thank_you.pk)}"' in client_for(rep).get(url("my_week")).content.decode()
    # A manager looking at delivery's week may act on it too; a closed row offers nothing.
    services.touchpoint_skip(touchpoint=checkup(), by=delivery, reason="Customer on holiday.")
    due(checkup(), timezone.now() + timedelta(hours=1))
    page = client_for(deliverymgr).get(url("my_week"), {"user": delivery.pk}).content.decode()
    assert f'action="{url("touchpoint_complete", confirmation.pk)}"' in page
    assert f'id="touchpoint-{checkup().pk}"' in page and "Customer on holiday." in page
    assert f'action="{url("touchpoint_complete", checkup().pk)}"' not in page


def test_actions_take_post_only(project, delivery) -> None:
    touchpoint = checkup()
    for action in ("touchpoint_complete", "touchpoint_skip", "touchpoint_cancel", "touchpoint_reschedule"):
        assert client_for(delivery).get(url(action, touchpoint.pk)).status_code == 405


def test_actions_need_the_csrf_token_htmx_sends_it_in_a_header(project, delivery) -> None:
    touchpoint = checkup()
    client = Client(enforce_csrf_checks=True)
    client.force_login(delivery)

    assert client.post(url("touchpoint_complete", touchpoint.pk), OUTCOME, **HTMX).status_code == 403
    assert state_of(touchpoint) == "scheduled"

    page = client.get(url("my_week")).content.decode()
    token = page.split('"X-CSRFToken": "', 1)[1].split('"', 1)[0]  # base.html's hx-headers
    response = client.post(url("touchpoint_complete", touchpoint.pk), OUTCOME, HTTP_X_CSRFTOKEN=token, **HTMX)
    assert response.status_code == 200 and state_of(touchpoint) == "done"


# --- Skip, cancel, reschedule ---------------------------------------------------------------


@pytest.mark.parametrize(("action", "state"), [("touchpoint_skip", "skipped"), ("touchpoint_cancel", "cancelled")])
def test_skip_and_cancel_need_a_reason(project, delivery, action, state) -> None:
    touchpoint = checkup()
    client = client_for(delivery)
    prefix = action.split("_")[1]

    refused = client.post(url(action, touchpoint.pk), {"reason": "   "}, **HTMX)
    assert refused.status_code == 400 and f'id="tp{touchpoint.pk}_{prefix}_reason_error"' in refused.content.decode()
    assert client.post(url(action, touchpoint.pk), {"reason": "x" * 2001}, **HTMX).status_code == 400
    assert state_of(touchpoint) == "scheduled"

    done = client.post(url(action, touchpoint.pk), {"reason": "The customer is closed for inventory."}, **HTMX)
    assert done.status_code == 200 and "The customer is closed for inventory." in done.content.decode()
    touchpoint.refresh_from_db()
    assert touchpoint.state == state and touchpoint.reason == "The customer is closed for inventory."


def test_rescheduling_moves_the_due_time_read_in_the_users_time_zone(project, delivery) -> None:
    UserProfile.objects.filter(user=delivery).update(time_zone="America/New_York")
    touchpoint = checkup()
    zone = zoneinfo.ZoneInfo("America/New_York")
    wanted = (timezone.now() + timedelta(days=2)).astimezone(zone).replace(hour=15, minute=30, second=0, microsecond=0)

    response = client_for(delivery).post(url("touchpoint_reschedule", touchpoint.pk),
                                         {"due_at": wanted.strftime("%Y-%m-%dT%H:%M")}, **HTMX)

    assert response.status_code == 200 and "Moved to" in response.content.decode()
    touchpoint.refresh_from_db()
    assert touchpoint.due_at == wanted and touchpoint.version == 2
    assert '<span class="tp-time">15:30</span>' in response.content.decode()


@pytest.mark.parametrize("value", ["", "soon", "2001-01-01T10:00"])
def test_rescheduling_to_the_past_or_nonsense_is_refused(project, delivery, value) -> None:
    touchpoint = checkup()
    before = touchpoint.due_at
    response = client_for(delivery).post(url("touchpoint_reschedule", touchpoint.pk), {"due_at": value}, **HTMX)
    assert response.status_code == 400
    assert f'id="tp{touchpoint.pk}_reschedule_due_at_error"' in response.content.decode()
    touchpoint.refresh_from_db()
    assert touchpoint.due_at == before and touchpoint.version == 1


def test_rescheduling_an_hour_ago_is_refused(project, delivery) -> None:
    touchpoint = checkup()
    value = timezone.localtime(timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = client_for(delivery).post(url("touchpoint_reschedule", touchpoint.pk), {"due_at": value}, **HTMX)
    assert response.status_code == 400 and "Choose a time in the future." in response.content.decode()
