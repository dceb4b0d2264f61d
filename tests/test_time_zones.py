"""Every page says the same time as the email about it: staff pages in the signed-in user's zone
(kept in the session), customer pages in the zone their emails use, the API in UTC."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.time_zones import SESSION_KEY
from crm import roles
from crm.models import Activity, OwnershipChange, UserProfile
from delivery import emails as delivery_emails
from delivery.models import Stage
from handover.models import Handover
from outbox.models import Notice
from tests.scenarios import client_for, landed, make_user, request_signoff, signoff_url
from touchpoints import emails as touchpoint_emails
from touchpoints.models import Touchpoint

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
KOLKATA = zoneinfo.ZoneInfo("Asia/Kolkata")


def in_zone(username: str, zone: zoneinfo.ZoneInfo, *role_names: str) -> Any:
    user = make_user(username, *role_names)
    UserProfile.objects.filter(user=user).update(time_zone=zone.key)
    return user


def day_month_year_time(moment: datetime) -> str:
    """`|date:"j M Y H:i"`."""
    return f"{moment.day} {moment:%b} {moment.year} {moment:%H:%M}"


@pytest.fixture
def moment() -> datetime:
    # 03:30 UTC: the evening before in New York, the morning in Kolkata (another day, another hour).
    return (timezone.now() - timedelta(days=2)).replace(hour=3, minute=30, second=0, microsecond=0)


@pytest.fixture
def one_event_everywhere(project: Any, delivery: Any, moment: datetime) -> dict[str, Any]:
    """The same moment on the account, the deal, the handover, a stage, a check-up and the
    ownership ledger (so on the reassignment dashboard too)."""
    account, deal = project.account, project.deal
    Activity.objects.filter(deal=deal).update(occurred_at=moment)
    OwnershipChange.objects.filter(account=account).update(changed_at=moment)
    Handover.objects.filter(pk=project.handover_id).update(accepted_at=moment)
    alice = account.contacts.get(first_name="Alice")
    Stage.objects.filter(project=project, position=1).update(signer=alice, signoff_requested_at=moment)
    touchpoint = Touchpoint.objects.filter(owner=delivery, state=Touchpoint.State.SCHEDULED).order_by("pk").first()
    assert touchpoint is not None
    Touchpoint.objects.filter(pk=touchpoint.pk).update(due_at=moment)
    return {"account": account, "deal": deal, "project": project, "touchpoint": touchpoint}


@pytest.mark.parametrize("zone", [NEW_YORK, KOLKATA], ids=["new_york", "kolkata"])
def test_each_user_sees_the_same_event_at_their_local_time_on_every_page(
    one_event_everywhere: dict[str, Any], delivery: Any, moment: datetime, zone: zoneinfo.ZoneInfo
) -> None:
    viewer = in_zone("viewer", zone, roles.DELIVERY_MANAGER)
    client = client_for(viewer)
    local = moment.astimezone(zone)
    assert local.date() != moment.date() or local.hour != moment.hour
    shown, in_utc = day_month_year_time(local), day_month_year_time(moment)
    e = one_event_everywhere
    pages = {
        "account": reverse("crm:account_detail", args=[e["account"].pk]),
        "deal": reverse("crm:deal_detail", args=[e["deal"].pk]),
        "handover": reverse("handover:handover_detail", args=[e["project"].handover_id]),
        "project": reverse("delivery:project_detail", args=[e["project"].pk]),
    }
    for name, path in pages.items():
        page = client.get(path).content.decode()
        assert shown in page, name
        assert in_utc not in page, name
        assert f"Times in {zone.key}" in page, name

    week = client.get(reverse("touchpoints:my_week"), {"user": delivery.pk}).content.decode()
    row = week[week.index(f'id="touchpoint-{e["touchpoint"].pk}"'):][:600]
    assert f'<span class="tp-time">{local:%H:%M}</span>' in row
    assert f'<span class="tp-day">{local:%a} {local.day} {local:%b}</span>' in row

    dashboard = client.get(reverse("insights:reassignment")).content.decode()
    assert local.strftime("%d %b %Y %H:%M") in dashboard
    assert f"Times in {zone.key}" in dashboard
    csv = client.get(reverse("insights:reassignment"), {"format": "csv", "table": "changes"}).getvalue().decode("utf-8-sig")
    assert local.isoformat(timespec="minutes") in csv


def test_a_user_in_utc_still_sees_utc_and_the_page_says_so(one_event_everywhere: dict[str, Any], moment: datetime,
                                                           deliverymgr: Any) -> None:
    page = client_for(deliverymgr).get(reverse("crm:account_detail", args=[one_event_everywhere["account"].pk]))
    assert day_month_year_time(moment) in page.content.decode()
    assert "Times in UTC" in page.content.decode()


def test_the_reminder_email_and_my_week_print_the_same_time_for_the_same_person(
    one_event_everywhere: dict[str, Any], delivery: Any, moment: datetime
) -> None:
    UserProfile.objects.filter(user=delivery).update(time_zone=KOLKATA.key)
    touchpoint = one_event_everywhere["touchpoint"]
    notice = Notice(kind="touchpoints.reminder", key="tz-test", target=f"touchpoints.touchpoint:{touchpoint.pk}",
                    due_at=moment)
    [email] = touchpoint_emails.reminder(notice)
    local = moment.astimezone(KOLKATA)
    assert f"{local.day} {local:%B}, {local:%H:%M} ({KOLKATA.key})" in email.body

    week = client_for(delivery).get(reverse("touchpoints:my_week")).content.decode()
    row = week[week.index(f'id="touchpoint-{touchpoint.pk}"'):][:600]
    assert f'<span class="tp-time">{local:%H:%M}</span>' in row and f"Times in {KOLKATA.key}" in week


def test_a_customer_page_shows_the_zone_and_the_day_its_email_used(
    project: Any, delivery: Any, mailoutbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    UserProfile.objects.filter(user=delivery).update(time_zone=KOLKATA.key)
    # 20:00 UTC: the link expires on the next day in Kolkata (01:30), the same day in UTC.
    with time_machine.travel(datetime(2026, 12, 1, 20, 0, tzinfo=UTC), tick=False):
        link, path = request_signoff(project, 1, delivery, mailoutbox, django_capture_on_commit_callbacks)
        expires = link.expires_at.astimezone(KOLKATA)
        assert expires.date() != link.expires_at.date()
        day = f"{expires.day} {expires:%B} {expires.year}"
        assert f"expires on {day}" in mailoutbox[-1].body
        email = delivery_emails.signoff_request(link, "https://example.invalid/c/")
        assert f"expires on {day}" in email.body

        page = landed(path).get(signoff_url(Stage.objects.get(pk=link.target.rsplit(":", 1)[1])))
    text = page.content.decode()
    assert page.status_code == 200, text[:1000]
    assert f"until {day}" in text
    assert f"Times in {KOLKATA.key}" in text


def test_a_customer_page_is_in_its_emails_zone_even_when_a_staff_user_is_signed_in(
    project: Any, delivery: Any, rep: Any, mailoutbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    UserProfile.objects.filter(user=delivery).update(time_zone=KOLKATA.key)
    UserProfile.objects.filter(user=rep).update(time_zone=NEW_YORK.key)
    link, path = request_signoff(project, 1, delivery, mailoutbox, django_capture_on_commit_callbacks)
    browser = client_for(rep)
    page = landed(path, browser).get(signoff_url(Stage.objects.get(pk=link.target.rsplit(":", 1)[1])))
    assert f"Times in {KOLKATA.key}" in page.content.decode()


# --- The zone kept in the session ------------------------------------------------------------


def profile_reads(queries: list[dict[str, Any]]) -> list[str]:
    return [q["sql"] for q in queries if "crm_userprofile" in q["sql"] and "time_zone" in q["sql"]]


def test_the_zone_is_kept_in_the_session_at_login_and_costs_pages_no_query(account: Any) -> None:
    viewer = in_zone("viewer", KOLKATA, roles.SALES_MANAGER)
    client = Client()
    assert client.post(reverse("login"), {"username": "viewer", "password": "keepwarm-test-pw"}).status_code == 302
    assert client.session[SESSION_KEY] == KOLKATA.key
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("crm:account_detail", args=[account.pk]))
    assert f"Times in {KOLKATA.key}" in page.content.decode()
    assert profile_reads(queries.captured_queries) == []
    assert viewer.pk


def test_a_session_without_the_zone_reads_it_once_and_keeps_it(account: Any) -> None:
    viewer = in_zone("viewer", NEW_YORK, roles.SALES_MANAGER)
    client = client_for(viewer)
    session = client.session
    del session[SESSION_KEY]
    session.save()
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("crm:account_detail", args=[account.pk]))
    assert f"Times in {NEW_YORK.key}" in page.content.decode()
    assert len(profile_reads(queries.captured_queries)) == 1
    assert client.session[SESSION_KEY] == NEW_YORK.key
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("crm:account_detail", args=[account.pk]))
    assert profile_reads(queries.captured_queries) == []


def test_saving_the_profile_with_another_zone_updates_the_session(rep: Any, account: Any) -> None:
    client = client_for(rep)
    assert "Times in UTC" in client.get(reverse("crm:account_detail", args=[account.pk])).content.decode()
    response = client.post(reverse("crm:profile"), {
        "phone": "", "time_zone": KOLKATA.key, "work_starts": "09:00", "work_ends": "17:00", "manager": "",
    })
    assert response.status_code == 302
    assert client.session[SESSION_KEY] == KOLKATA.key
    assert f"Times in {KOLKATA.key}" in client.get(reverse("crm:account_detail", args=[account.pk])).content.decode()


def test_a_refused_profile_change_leaves_the_sessions_zone(rep: Any) -> None:
    client = client_for(rep)
    response = client.post(reverse("crm:profile"), {
        "phone": "", "time_zone": KOLKATA.key, "work_starts": "18:00", "work_ends": "09:00", "manager": "",
    })
    assert response.status_code == 200
    assert client.session[SESSION_KEY] == "UTC"


# --- The API stays in UTC ----------------------------------------------------------------------


def test_the_api_answers_in_utc_for_a_user_signed_in_in_another_zone(
    one_event_everywhere: dict[str, Any], delivery: Any, moment: datetime
) -> None:
    UserProfile.objects.filter(user=delivery).update(time_zone=KOLKATA.key)
    touchpoint = one_event_everywhere["touchpoint"]
    client = client_for(delivery)  # the session, as the browser's own API calls use
    assert client.session[SESSION_KEY] == KOLKATA.key
    response = client.get(f"/api/v1/touchpoints/{touchpoint.pk}/")
    assert response.status_code == 200, response.content[:500]
    assert response.json()["due_at"] == moment.isoformat().replace("+00:00", "Z")


def test_no_request_leaves_its_zone_to_the_next(rep: Any, account: Any) -> None:
    UserProfile.objects.filter(user=rep).update(time_zone=KOLKATA.key)
    client_for(rep).get(reverse("crm:account_detail", args=[account.pk]))
    assert timezone.get_current_timezone_name() == "UTC"


def test_dashboard_figures_are_shared_only_within_one_time_zone(deliverymgr: Any) -> None:
    from insights import snapshots
    from insights.selectors import Period

    filters = snapshots.Filters(period=Period.last_days(90), team=None)
    with timezone.override(NEW_YORK):
        assert snapshots.reassignment_figures(filters=filters, viewer=deliverymgr).reused is False
        assert snapshots.reassignment_figures(filters=filters, viewer=deliverymgr).reused is True
    # The same days, but they begin at midnight in Kolkata: other figures.
    with timezone.override(KOLKATA):
        assert snapshots.reassignment_figures(filters=filters, viewer=deliverymgr).reused is False


def test_an_administrator_changing_someones_zone_moves_their_open_sessions(rep: Any, admin_user: Any,
                                                                           account: Any) -> None:
    from crm import services

    browser = client_for(rep)
    assert "Times in UTC" in browser.get(reverse("crm:account_detail", args=[account.pk])).content.decode()
    services.profile_update(user=rep, by=admin_user, time_zone=NEW_YORK.key)
    page = browser.get(reverse("crm:account_detail", args=[account.pk])).content.decode()
    assert f"Times in {NEW_YORK.key}" in page
