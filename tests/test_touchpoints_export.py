"""The check-up exports: "My week" and the team calendar as CSV, with each page's rows and
filters, its permissions, labels rather than codes and due times in the viewer's zone."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, time, timedelta

import pytest
from django.contrib.auth.models import User
from django.http import StreamingHttpResponse
from django.test import Client
from django.utils import timezone

from core.names import name_of
from crm.models import UserProfile
from tests.scenarios import agenda_touchpoint as checkup
from tests.scenarios import client_for, csv_of, export_queries
from tests.scenarios import touchpoint_due as due
from tests.scenarios import touchpoints_url as url
from touchpoints import services
from touchpoints.models import Touchpoint

pytestmark = pytest.mark.django_db

WEEK = "/my-week/export.csv"
CALENDAR = "/team-calendar/export.csv"


def week_page_titles(client: Client, params: dict) -> list[str]:
    week = client.get(url("my_week"), params).context["week"]
    return sorted(t.title for t in [*week.now_first, *week.later, *week.next_week, *week.earlier])


def calendar_page_titles(client: Client, params: dict) -> list[str]:
    rows = client.get(url("team_calendar"), params).context["rows"]
    return sorted(t.title for row in rows for day in row.days for t in day)


def titles(rows: list[dict[str, str]]) -> list[str]:
    return sorted(r["Check-up"] for r in rows)


def extra(touchpoint: Touchpoint, count: int, first: datetime) -> None:
    for i in range(count):
        Touchpoint.objects.create(
            account=touchpoint.account, kind="checkup_call", title=f"Extra check-up {i}", owner=touchpoint.owner,
            contact=touchpoint.contact, channel="phone", due_at=first + timedelta(minutes=i * 20),
        )


# --- My week --------------------------------------------------------------------------------


def test_my_weeks_export_has_the_pages_rows_with_labels(project, delivery: User) -> None:
    late = due(checkup("delivery_confirmation"), timezone.now() - timedelta(hours=3))
    client = client_for(delivery)
    response = client.get(WEEK)
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Disposition"].startswith('attachment; filename="keepwarm-week-delivery-')
    rows = csv_of(response)
    assert titles(rows) == week_page_titles(client, {}) and late.title in titles(rows)
    row = next(r for r in rows if r["Check-up"] == late.title)
    assert (row["Kind"], row["State"], row["Account"], row["Assigned to"]) == (
        "Delivery confirmation", "Scheduled", project.account.name, name_of(delivery),
    )
    assert row["Contact"] == late.contact.full_name and row["Channel"] == late.get_channel_display()
    assert "delivery_confirmation" not in {v for r in rows for v in r.values()}


def test_due_times_are_in_the_viewers_time_zone(project, delivery: User) -> None:
    UserProfile.objects.filter(user=delivery).update(time_zone="Asia/Tokyo")
    moment = (timezone.now() - timedelta(hours=1)).replace(second=0, microsecond=0)
    late = due(checkup("delivery_confirmation"), moment)
    row = next(r for r in csv_of(client_for(delivery).get(WEEK)) if r["Check-up"] == late.title)
    assert row["Due"] == moment.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo")).isoformat(timespec="minutes")
    assert row["Due"].endswith("+09:00")


def test_a_manager_exports_someone_elses_week_and_a_rep_may_not(project, delivery, deliverymgr, rep) -> None:
    manager = client_for(deliverymgr)
    assert titles(csv_of(manager.get(WEEK, {"user": delivery.pk}))) == week_page_titles(manager, {"user": delivery.pk})
    assert {r["Assigned to"] for r in csv_of(manager.get(WEEK, {"user": delivery.pk}))} == {name_of(delivery)}
    assert client_for(rep).get(WEEK, {"user": delivery.pk}).status_code == 403
    # The rep's own week: their thank-you note, none of delivery's check-ups.
    assert {r["Assigned to"] for r in csv_of(client_for(rep).get(WEEK))} <= {name_of(rep)}
    for bad in ("abc", "99999999", "1" * 40):
        assert manager.get(WEEK, {"user": bad}).status_code == 404


def test_an_owner_never_gets_rows_on_accounts_they_may_not_see(project, delivery, other_account) -> None:
    # A check-up held by delivery on Globex, whose team delivery is not on: the page hides it.
    Touchpoint.objects.create(
        account=other_account, kind="checkup_call", title="Globex call", owner=delivery, channel="phone",
        due_at=timezone.now() + timedelta(hours=2),
    )
    client = client_for(delivery)
    rows = csv_of(client.get(WEEK))
    assert "Globex call" not in titles(rows) and titles(rows) == week_page_titles(client, {})
    assert {r["Account"] for r in rows} == {project.account.name}


def test_my_weeks_export_needs_a_login_and_takes_get_only(project, delivery) -> None:
    assert client_for(delivery).post(WEEK).status_code == 405
    anonymous = Client().get(WEEK)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")


def test_my_weeks_export_query_count_does_not_grow_with_rows(project, delivery) -> None:
    client = client_for(delivery)
    Touchpoint.objects.exclude(pk=checkup().pk).delete()
    due(checkup(), timezone.now() + timedelta(hours=1))
    one = export_queries(client, WEEK)
    extra(checkup(), 49, timezone.now() + timedelta(hours=2))
    assert len(csv_of(client.get(WEEK))) == 50
    assert export_queries(client, WEEK) == one


# --- Team calendar --------------------------------------------------------------------------


def test_the_team_calendars_export_has_the_grids_rows_for_its_week_and_team(project, delivery, deliverymgr) -> None:
    done = checkup("delivery_confirmation")
    services.touchpoint_complete(touchpoint=done, by=delivery, satisfaction=3, as_expected=True)
    client = client_for(deliverymgr)
    week = timezone.localdate(done.due_at).isoformat()
    for params in ({"week": week}, {"week": week, "team": "sales"}, {"week": week, "team": "delivery"}, {},
                   {"week": "not-a-date", "team": "marketing"}, {"week": "9999-99-99"}):
        assert titles(csv_of(client.get(CALENDAR, params))) == calendar_page_titles(client, params), params
    row = next(r for r in csv_of(client.get(CALENDAR, {"week": week})) if r["Check-up"] == done.title)
    assert (row["State"], row["Satisfaction"], row["Kind"]) == ("Done", "3", "Delivery confirmation")
    assert row["Closed"]
    assert titles(csv_of(client.get(CALENDAR, {"week": week, "team": "sales"}))) != titles(
        csv_of(client.get(CALENDAR, {"week": week, "team": "delivery"}))
    )


def test_the_team_calendars_export_is_for_managers_only(project, rep, delivery, deliverymgr, salesmgr) -> None:
    for user in (rep, delivery):
        assert client_for(user).get(CALENDAR).status_code == 403
    for user in (deliverymgr, salesmgr):
        assert client_for(user).get(CALENDAR).status_code == 200
    assert client_for(deliverymgr).post(CALENDAR).status_code == 405
    assert Client().get(CALENDAR).status_code == 302


def test_the_team_calendars_export_query_count_does_not_grow_with_rows(project, deliverymgr) -> None:
    client = client_for(deliverymgr)
    today = timezone.now().date()
    monday = today + timedelta(days=7 - today.weekday())
    like = checkup()
    Touchpoint.objects.filter(due_at__gte=datetime.combine(monday, time(0), tzinfo=UTC)).delete()
    params = {"week": monday.isoformat(), "team": "delivery"}
    extra(like, 1, datetime.combine(monday, time(9), tzinfo=UTC))
    one = export_queries(client, CALENDAR, **params)
    extra(like, 49, datetime.combine(monday, time(10), tzinfo=UTC))
    assert len(csv_of(client.get(CALENDAR, params))) == 50
    assert export_queries(client, CALENDAR, **params) == one


def test_the_pages_link_to_their_exports(project, delivery, deliverymgr) -> None:
    assert f'href="{WEEK}"' in client_for(delivery).get(url("my_week")).content.decode()
    assert f'href="{WEEK}?user={delivery.pk}"' in client_for(deliverymgr).get(
        url("my_week"), {"user": delivery.pk}
    ).content.decode()
    page = client_for(deliverymgr).get(url("team_calendar"), {"week": "2027-03-03", "team": "sales"}).content.decode()
    assert f'href="{CALENDAR}?week=2027-03-01&amp;team=sales"' in page
