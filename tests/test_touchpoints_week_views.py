"""The touchpoint pages that show the agenda: my week, the team calendar, the calendar feed
settings and the account page's agenda section, with their query budgets."""

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

from crm.models import UserProfile
from tests.scenarios import agenda_touchpoint as checkup
from tests.scenarios import client_for, fill_every_part_of_the_page
from tests.scenarios import touchpoint_due as due
from tests.scenarios import touchpoints_url as url
from touchpoints import services
from touchpoints.models import CalendarFeed, Touchpoint
from touchpoints.urls import urlpatterns

pytestmark = pytest.mark.django_db


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
