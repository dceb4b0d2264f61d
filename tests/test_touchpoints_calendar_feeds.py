"""Calendar feeds: the staff's check-up feed and the customer portal's feed."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from icalendar import Calendar

from crm import services as crm_services
from delivery import services as delivery_services
from tests.scenarios import (
    STRICT_REFERRER_POLICIES,
    accept_deal,
    assert_customer_headers,
    emailed_path,
    make_user,
    tampered,
)
from touchpoints import services
from touchpoints.models import Touchpoint

# --- Calendar feeds ------------------------------------------------------------------------------


def parse(response: Any) -> Calendar:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/calendar")
    return Calendar.from_ical(response.content)


def events_of(calendar: Calendar) -> dict[str, Any]:
    return {str(event["uid"]): event for event in calendar.walk("VEVENT")}


def test_a_users_private_feed_parses_with_one_event_per_touchpoint(project, delivery, rep):
    raw = services.calendar_feed_reset(user=delivery)

    response = Client().get(f"/calendar/{raw}.ics")

    calendar = parse(response)
    assert str(calendar["version"]) == "2.0" and calendar["prodid"]
    assert "no-store" in response["Cache-Control"] and response["Referrer-Policy"] in STRICT_REFERRER_POLICIES
    mine = list(Touchpoint.objects.filter(owner=delivery).select_related("account"))
    assert len(mine) == 4  # the rep owns the thank-you note
    events = events_of(calendar)
    host = settings.SITE_URL.split("//", 1)[-1].split("/", 1)[0]
    assert set(events) == {f"touchpoint-{t.pk}@{host}" for t in mine}
    for touchpoint in mine:
        event = events[f"touchpoint-{touchpoint.pk}@{host}"]
        assert event.decoded("dtstart") == touchpoint.due_at
        assert event.decoded("dtend") > touchpoint.due_at
        assert touchpoint.title in str(event["summary"]) and project.account.name in str(event["summary"])
    # The rep's feed holds the rep's touchpoint only.
    rep_events = events_of(parse(Client().get(f"/calendar/{services.calendar_feed_reset(user=rep)}.ics")))
    thank_you = Touchpoint.objects.get(owner=rep)
    assert set(rep_events) == {f"touchpoint-{thank_you.pk}@{host}"}


def test_a_reset_feed_token_makes_the_old_url_404(project, delivery):
    old = services.calendar_feed_reset(user=delivery)
    assert Client().get(f"/calendar/{old}.ics").status_code == 200

    new = services.calendar_feed_reset(user=delivery)

    assert Client().get(f"/calendar/{old}.ics").status_code == 404
    assert Client().get(f"/calendar/{new}.ics").status_code == 200
    services.calendar_feed_revoke(user=delivery)
    assert Client().get(f"/calendar/{new}.ics").status_code == 404


@pytest.mark.parametrize("kind", ["one character changed", "truncated", "random", "oversize"])
def test_a_wrong_feed_token_404s(kind, project, delivery):
    raw = services.calendar_feed_reset(user=delivery)
    response = Client().get(f"/calendar/{tampered(raw)[kind]}.ics")
    assert response.status_code == 404 and b"BEGIN:VCALENDAR" not in response.content


def test_a_deactivated_users_feed_404s(project, delivery):
    raw = services.calendar_feed_reset(user=delivery)
    User.objects.filter(pk=delivery.pk).update(is_active=False)
    response = Client().get(f"/calendar/{raw}.ics")
    assert response.status_code == 404 and b"BEGIN:VCALENDAR" not in response.content


def _portal_browser(project: Any, owner: Any, mailoutbox: list[Any], capture: Any) -> Client:
    alice = project.account.contacts.get(first_name="Alice")
    with capture(execute=True):
        delivery_services.portal_link_issue(account=project.account, by=owner, contact=alice)
    path = emailed_path(mailoutbox, "/c/portal/open/")
    client = Client()
    assert client.get(path, follow=True).status_code == 200
    return client


def test_the_portal_agenda_ics_holds_only_this_accounts_scheduled_check_ups(
    project, delivery, other_account, rep2, salesmgr, deliverymgr, mailoutbox, django_capture_on_commit_callbacks
):
    # Another account's agenda, with internal objectives.
    other_deal = crm_services.deal_create(account=other_account, by=rep2, name="Globex roll-out",
                                          line_items=[{"name": "Licences", "quantity": 5, "unit_price": "100"}])
    accept_deal(other_deal, rep=rep2, salesmgr=salesmgr, deliverymgr=deliverymgr,
                owner=make_user("delivery2", "Delivery team member"))
    Touchpoint.objects.filter(account=other_account).update(objectives="GLOBEX-INTERNAL-OBJECTIVE-42")
    # On this account: one touchpoint done with private notes, one cancelled.
    ours = Touchpoint.objects.filter(account=project.account)
    done = ours.get(kind="delivery_confirmation")
    services.touchpoint_complete(touchpoint=done, by=delivery, satisfaction=3, as_expected=True,
                                 notes="PRIVATE-OUTCOME-NOTE")
    services.touchpoint_cancel(touchpoint=ours.get(kind="training_check"), by=delivery, reason="PRIVATE-REASON")
    client = _portal_browser(project, delivery, mailoutbox, django_capture_on_commit_callbacks)

    response = client.get(f"/c/portal/{project.account_id}/agenda.ics")

    calendar = parse(response)
    assert_customer_headers(response)
    expected = ours.filter(state="scheduled").exclude(kind="renewal")
    assert expected.count() == 3
    events = events_of(calendar)
    assert {uid.split("@")[0] for uid in events} == {f"touchpoint-{t.pk}" for t in expected}
    for touchpoint in expected:
        event = next(e for uid, e in events.items() if uid.startswith(f"touchpoint-{touchpoint.pk}@"))
        assert event.decoded("dtstart") == touchpoint.due_at
        assert touchpoint.get_kind_display() in str(event["summary"])
    text = response.content.decode()
    for secret in ("GLOBEX-INTERNAL-OBJECTIVE-42", "PRIVATE-OUTCOME-NOTE", "PRIVATE-REASON", other_account.name):
        assert secret not in text
    # Without the portal link, or for another account, there is no calendar.
    assert Client().get(f"/c/portal/{project.account_id}/agenda.ics").status_code == 404
    other = client.get(f"/c/portal/{other_account.pk}/agenda.ics")
    assert other.status_code == 403 and b"BEGIN:VCALENDAR" not in other.content
