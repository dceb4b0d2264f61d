"""The staff pages of check-ups: "My week" and its in-place actions, the team calendar, the
calendar feed settings and the account page's agenda.

`project` (tests.conftest) is rep's deal accepted with `delivery` as delivery owner, which
schedules the 30-day agenda: the thank-you note for rep, the rest for delivery.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm.models import Activity, UserProfile
from delivery.models import Problem
from flows import actions as flows
from tests.scenarios import client_for
from touchpoints import services
from touchpoints.models import CalendarFeed, Touchpoint
from touchpoints.urls import urlpatterns

pytestmark = pytest.mark.django_db

HTMX: dict[str, Any] = {"HTTP_HX_REQUEST": "true"}
OUTCOME = {"satisfaction": "4", "as_expected": "yes", "notes": "Happy with the training."}


def url(name: str, *args: Any) -> str:
    return reverse(f"touchpoints:{name}", args=args)


def checkup(kind: str = "checkup_call") -> Touchpoint:
    return Touchpoint.objects.select_related("account").get(kind=kind, step__isnull=False)


def due(touchpoint: Touchpoint, when: Any) -> Touchpoint:
    Touchpoint.objects.filter(pk=touchpoint.pk).update(due_at=when)
    touchpoint.refresh_from_db()
    return touchpoint


def make_touchpoints(touchpoint: Touchpoint, count: int, first: datetime | None = None) -> None:
    """More rows like `touchpoint` (same owner, account and contact), 7 hours apart from `first`
    (default: two hours from now), so over the coming days."""
    first = first or timezone.now() + timedelta(hours=2)
    for i in range(count):
        Touchpoint.objects.create(
            account=touchpoint.account, kind="checkup_call", title=f"Extra check-up {i}", owner=touchpoint.owner,
            contact=touchpoint.contact, channel="phone", due_at=first + timedelta(hours=i * 7),
            objectives="Ask how it goes.",
        )


def state_of(touchpoint: Touchpoint) -> str:
    return Touchpoint.objects.get(pk=touchpoint.pk).state


# --- My week --------------------------------------------------------------------------------


def test_every_staff_url_has_a_view_and_none_is_a_placeholder() -> None:
    names = {p.name for p in urlpatterns}
    assert {"my_week", "team_calendar", "touchpoint_complete", "touchpoint_skip", "touchpoint_cancel",
            "touchpoint_reschedule", "calendar_settings"} <= names


def test_my_week_lists_overdue_and_today_first_with_contact_and_objectives(project, delivery, rep, account) -> None:
    now = timezone.now()
    late = due(checkup("delivery_confirmation"), now - timedelta(hours=3))
    soon = due(checkup(), now + timedelta(days=1, hours=1))

    response = client_for(delivery).get(url("my_week"))

    assert response.status_code == 200
    week = response.context["week"]
    assert week.now_first[0] == late and late.pk not in [t.pk for t in [*week.later, *week.next_week]]
    assert soon in [*week.later, *week.next_week]
    page = response.content.decode()
    assert f'id="touchpoint-{late.pk}"' in page and "is-overdue" in page
    assert page.index(f'id="touchpoint-{late.pk}"') < page.index(f'id="touchpoint-{soon.pk}"')
    assert "alice@acme.example" in page and account.name in page
    assert late.objectives.splitlines()[0][:30] in page
    # Only delivery's own: the rep's thank-you note is not on this page.
    assert Touchpoint.objects.get(kind="thank_you").owner == rep
    assert f'id="touchpoint-{Touchpoint.objects.get(kind="thank_you").pk}"' not in page


def test_my_week_shows_due_times_in_the_users_time_zone(project, delivery) -> None:
    UserProfile.objects.filter(user=delivery).update(time_zone="Asia/Tokyo")
    moment = (timezone.now() - timedelta(hours=1)).replace(second=0, microsecond=0)
    late = due(checkup("delivery_confirmation"), moment)

    page = client_for(delivery).get(url("my_week")).content.decode()

    local = moment.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo"))
    row = page[page.index(f'id="touchpoint-{late.pk}"'):]
    assert f'<span class="tp-time">{local:%H:%M}</span>' in row[:600]
    assert "Asia/Tokyo" in page


def test_a_manager_opens_someone_elses_week_and_a_rep_may_not(project, delivery, deliverymgr, rep) -> None:
    response = client_for(deliverymgr).get(url("my_week"), {"user": delivery.pk})
    assert response.status_code == 200 and response.context["owner"] == delivery
    assert f'id="touchpoint-{checkup("delivery_confirmation").pk}"' in response.content.decode()

    assert client_for(rep).get(url("my_week"), {"user": delivery.pk}).status_code == 403
    assert client_for(deliverymgr).get(url("my_week"), {"user": 999999}).status_code == 404
    assert client_for(deliverymgr).get(url("my_week"), {"user": "x"}).status_code == 404


def test_my_week_needs_a_login_and_takes_get_only(project, delivery) -> None:
    response = Client().get(url("my_week"))
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert client_for(delivery).post(url("my_week")).status_code == 405


@pytest.mark.parametrize("rows", [2, 8])
def test_my_week_query_count_does_not_grow_with_rows(project, delivery, rows, django_assert_max_num_queries) -> None:
    make_touchpoints(checkup(), rows)
    client = client_for(delivery)
    client.get(url("my_week"))  # warm the session
    with django_assert_max_num_queries(8), CaptureQueriesContext(connection) as queries:
        response = client.get(url("my_week"))
    listed = [*response.context["week"].now_first, *response.context["week"].later, *response.context["week"].next_week]
    assert len([t for t in listed if t.title.startswith("Extra")]) == rows
    assert len(queries) <= 8


def test_my_week_query_count_is_the_same_for_2_and_8_rows(project, delivery) -> None:
    client = client_for(delivery)
    counts = []
    for extra in (2, 6):
        make_touchpoints(checkup(), extra)
        client.get(url("my_week"))
        with CaptureQueriesContext(connection) as queries:
            client.get(url("my_week"))
        counts.append(len(queries))
    assert counts[0] == counts[1]


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


# --- Team calendar --------------------------------------------------------------------------


def test_the_team_calendar_is_for_managers_only(project, rep, delivery, deliverymgr, salesmgr, admin_user) -> None:
    for user in (rep, delivery):
        assert client_for(user).get(url("team_calendar")).status_code == 403
    for user in (deliverymgr, salesmgr, admin_user):
        assert client_for(user).get(url("team_calendar")).status_code == 200
    assert Client().get(url("team_calendar")).status_code == 302


def test_the_team_calendar_shows_a_week_of_people_by_days(project, delivery, rep, deliverymgr) -> None:
    done = checkup("delivery_confirmation")
    services.touchpoint_complete(touchpoint=done, by=delivery, satisfaction=3, as_expected=True)
    open_one = due(checkup(), done.due_at + timedelta(minutes=30))
    missed = due(checkup("training_check"), done.due_at + timedelta(minutes=45))
    services.touchpoint_mark_missed(missed.pk, missed.due_at + timedelta(days=3))

    response = client_for(deliverymgr).get(url("team_calendar"), {"week": timezone.localdate(done.due_at).isoformat()})

    rows = {row.person.username: row for row in response.context["rows"]}
    listed = [t for day in rows["delivery"].days for t in day]
    assert {done.pk, open_one.pk, missed.pk} <= {t.pk for t in listed}
    assert response.context["start"].weekday() == 0 and len(response.context["days"]) == 7
    assert (response.context["counts"]["done"], response.context["counts"]["missed"]) == (1, 1)
    page = response.content.decode()
    assert "tp-chip-done" in page and "tp-chip-missed" in page and "3/5" in page and project.account.name in page


def test_the_team_calendar_navigates_weeks_and_filters_teams(project, delivery, rep, deliverymgr) -> None:
    client = client_for(deliverymgr)
    later = checkup("review_meeting")  # day 30
    week = timezone.localdate(later.due_at)

    response = client.get(url("team_calendar"), {"week": week.isoformat()})
    assert response.context["start"] == week - timedelta(days=week.weekday())
    assert later.pk in {t.pk for row in response.context["rows"] for day in row.days for t in day}
    assert f'?week={(response.context["start"] + timedelta(days=7)).isoformat()}' in response.content.decode()

    sales = client.get(url("team_calendar"), {"week": week.isoformat(), "team": "sales"})
    assert "delivery" not in {row.person.username for row in sales.context["rows"]}
    assert "rep" in {row.person.username for row in sales.context["rows"]}
    delivery_team = client.get(url("team_calendar"), {"team": "delivery"})
    assert {row.person.username for row in delivery_team.context["rows"]} == {"delivery", "deliverymgr"}

    nonsense = client.get(url("team_calendar"), {"week": "not-a-date", "team": "marketing"})
    assert nonsense.status_code == 200 and nonsense.context["team"] == ""
    today = timezone.localdate()
    assert nonsense.context["start"] == today - timedelta(days=today.weekday())


def test_the_team_calendar_query_count_does_not_grow_with_touchpoints(project, deliverymgr) -> None:
    client = client_for(deliverymgr)
    # Next week's Monday 09:00 in the viewer's zone (UTC): the 8 extra rows span 37 hours, which
    # from "now" would cross into the following week on a Sunday.
    today = timezone.now().date()
    monday = today + timedelta(days=7 - today.weekday())
    first = datetime.combine(monday, time(9), tzinfo=UTC)
    week = url("team_calendar") + f"?week={monday.isoformat()}"
    counts = []
    for extra in (2, 6):
        make_touchpoints(checkup(), extra, first=first)
        client.get(week)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(week)
        counts.append(len(queries))
    assert counts[0] == counts[1] <= 8
    assert sum(row.count for row in response.context["rows"]) >= 8


# --- Calendar feed settings -----------------------------------------------------------------


def test_the_feed_url_is_shown_once_works_and_resets(project, delivery) -> None:
    client = client_for(delivery)
    assert "Create my feed URL" in client.get(url("calendar_settings")).content.decode()

    made = client.post(url("calendar_settings"), {"action": "reset"})
    assert made.status_code == 200 and "no-store" in made["Cache-Control"]
    feed_url = made.context["new_url"]
    assert "private" in made.content.decode().lower() and feed_url in made.content.decode()
    feed_path = feed_url.split("testserver", 1)[1]
    fetched = Client().get(feed_path)
    assert fetched.status_code == 200 and fetched["Content-Type"].startswith("text/calendar")

    again = client.get(url("calendar_settings")).content.decode()
    assert feed_url not in again and "Last fetched" in again and "never yet" not in again

    client.post(url("calendar_settings"), {"action": "reset"})
    assert Client().get(feed_path).status_code == 404


def test_turning_the_feed_off_revokes_the_url(project, delivery) -> None:
    client = client_for(delivery)
    feed_path = client.post(url("calendar_settings"), {"action": "reset"}).context["new_url"].split("testserver", 1)[1]

    response = client.post(url("calendar_settings"), {"action": "revoke"})

    assert response.status_code == 302
    assert not CalendarFeed.objects.filter(user=delivery).exists()
    assert Client().get(feed_path).status_code == 404
    assert client.post(url("calendar_settings"), {"action": "explode"}).status_code == 400
    assert Client().get(url("calendar_settings")).status_code == 302


# --- The account page's agenda and the navigation -------------------------------------------


def test_the_account_page_shows_the_agenda_to_the_team(project, rep, presales, account, delivery) -> None:
    done = checkup("delivery_confirmation")
    services.touchpoint_complete(touchpoint=done, by=delivery, satisfaction=2, as_expected=False, notes="Late.")
    for user in (rep, presales, delivery):
        response = client_for(user).get(reverse("crm:account_detail", args=[account.pk]))
        sections = {s["title"]: s for s in response.context["sections"]}
        assert "Check-ups" in sections, user
        context = sections["Check-ups"]["context"]
        assert checkup().pk in [t.pk for t in context["upcoming"]]
        assert [t.pk for t in context["recent"]] == [done.pk]
        page = response.content.decode()
        assert f'id="agenda-{done.pk}"' in page and "2/5" in page


def fill_every_part_of_the_page(account: Any, *, rep: Any, rep2: Any, delivery: Any, salesmgr: Any) -> None:
    """Something in every part of a customer's account page (the `project` fixture's account):
    a done and an answered check-up, a problem, a portal link, two reassignments, a logged call."""
    from crm import services as crm_services
    from delivery import services as delivery_services

    done = checkup("delivery_confirmation")
    services.touchpoint_complete(touchpoint=done, by=delivery, satisfaction=2, as_expected=False, notes="Late.")
    answered = checkup()
    services.touchpoint_complete(touchpoint=answered, by=delivery, satisfaction=4, as_expected=True)
    link, _raw = services.survey_link_issue(answered)
    services.survey_answer(link=link, satisfaction=1, as_expected=False, ip=None, user_agent="test")
    delivery_services.problem_raise(account=account, by=rep, title="Slow screens", category="other", severity="high")
    delivery_services.portal_link_issue(account=account, by=delivery, contact=account.contacts.get(first_name="Alice"))
    flows.account_reassign(account=account, to_user=rep2, by=salesmgr, note="Rep moves team.")
    flows.account_reassign(account=account, to_user=rep, by=salesmgr, note="Back.")
    crm_services.activity_log(account=account, by=rep, kind="call", subject="Kick-off", body="Went well.")


def test_a_customers_account_page_reads_no_column_it_left_out(
    project, rep, rep2, presales, salesmgr, delivery, account, monkeypatch
) -> None:
    """The account page's reads list the columns they show (`.only()`): a column left out is read
    again, one query per row, when a template touches it. Every part of a customer's page is
    filled here, and reading a left-out column fails the request."""
    fill_every_part_of_the_page(account, rep=rep, rep2=rep2, delivery=delivery, salesmgr=salesmgr)

    def refresh_from_db(self: Any, *args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"{type(self).__name__} read {kwargs.get('fields')} again")

    monkeypatch.setattr("django.db.models.Model.refresh_from_db", refresh_from_db)
    for user in (rep, delivery, salesmgr, presales):
        page = client_for(user).get(reverse("crm:account_detail", args=[account.pk])).content.decode()
        for shown in ("Slow screens", "Customer: 1/5", "Late.", "Rep moves team.", "Software rollout",
                      "Went well.", "sold by", "Past team"):
            assert shown in page, (user, shown)


def test_a_prospect_account_has_no_agenda_section(rep, account) -> None:
    response = client_for(rep).get(reverse("crm:account_detail", args=[account.pk]))
    assert "Check-ups" not in [s["title"] for s in response.context["sections"]]


def test_the_agenda_section_needs_the_account_team(project, account, outsider) -> None:
    assert not services.can_see_account_agenda(outsider, account)
    assert client_for(outsider).get(reverse("crm:account_detail", args=[account.pk])).status_code == 404


def test_the_account_page_query_count_is_the_same_for_2_and_8_touchpoints(project, presales, account) -> None:
    client = client_for(presales)  # on the team, not the owner: the costlier permission path
    page = reverse("crm:account_detail", args=[account.pk])
    keep = checkup()
    Touchpoint.objects.filter(account=account).exclude(pk=keep.pk).exclude(kind="training_check").delete()
    counts = []
    for extra in (0, 6):  # 2 touchpoints, then 8
        make_touchpoints(keep, extra)
        client.get(page)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(page)
        counts.append(len(queries))
    assert counts[0] == counts[1]
    assert len({s["title"]: s for s in response.context["sections"]}["Check-ups"]["context"]["upcoming"]) == 8


def test_the_navigation_links_to_my_week_and_the_team_calendar(rep, deliverymgr) -> None:
    rep_page = client_for(rep).get(reverse("crm:account_list")).content.decode()
    assert f'href="{url("my_week")}"' in rep_page and f'href="{url("team_calendar")}"' not in rep_page
    manager_page = client_for(deliverymgr).get(reverse("crm:account_list")).content.decode()
    assert f'href="{url("my_week")}"' in manager_page and f'href="{url("team_calendar")}"' in manager_page
    nobody = User.objects.create_user("norole", password="x")
    assert f'href="{url("my_week")}"' not in client_for(nobody).get(reverse("crm:account_list")).content.decode()
