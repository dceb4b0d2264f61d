"""Saving an edit form without changing anything changes nothing: no rewritten rows, no event
saying something changed. The browser round trip (tests/browser/test_edit_forms_round_trip.py)
covers every form; these pin each rule at the service or view that keeps it."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from core.widgets import Textarea
from crm import services as crm_services
from crm.forms import AccountForm
from crm.models import Activity, UserProfile
from flows import actions as flows
from handover import services as handover_services
from handover.models import Handover
from tests.scenarios import accept_deal, client_for
from touchpoints import services as touchpoint_services
from touchpoints.models import Touchpoint

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def _events() -> set[int]:
    return set(Activity.objects.values_list("pk", flat=True))


def test_a_textarea_reads_the_browsers_crlf_line_breaks_as_lf() -> None:
    posted = {"notes": "Two plants.\r\nLine 2 first.\rThen line 3."}
    assert Textarea().value_from_datadict(posted, {}, "notes") == "Two plants.\nLine 2 first.\nThen line 3."


@pytest.mark.django_db
def test_an_account_saved_unchanged_from_the_browser_keeps_its_notes_and_writes_no_event(
    account: Any, rep: Any
) -> None:
    crm_services.account_update(account=account, by=rep, notes="Two plants.\nLine 2 first.")
    form = AccountForm({"name": account.name, "lifecycle": account.lifecycle, "city": account.city,
                        "industry": account.industry, "notes": "Two plants.\r\nLine 2 first."}, instance=account)
    assert form.is_valid(), form.errors
    before = _events()
    crm_services.account_update(account=account, by=rep, **form.cleaned_data)
    account.refresh_from_db()
    assert account.notes == "Two plants.\nLine 2 first."
    assert _events() == before


def test_a_deal_saved_with_its_own_line_items_keeps_them_and_writes_no_event(deal: Any, rep: Any) -> None:
    items = list(deal.line_items.order_by("pk").values("kind", "name", "quantity", "unit_price"))
    ids = list(deal.line_items.order_by("pk").values_list("pk", flat=True))
    before = _events()
    crm_services.deal_update(deal=deal, by=rep, line_items=items, name=deal.name)
    assert list(deal.line_items.order_by("pk").values_list("pk", flat=True)) == ids
    assert _events() == before


def test_a_deal_whose_line_items_changed_records_the_change(deal: Any, rep: Any) -> None:
    items = list(deal.line_items.order_by("pk").values("kind", "name", "quantity", "unit_price"))
    items[0]["quantity"] = "3"
    crm_services.deal_update(deal=deal, by=rep, line_items=items)
    assert sorted(deal.line_items.values_list("quantity", flat=True)) == [1, 3]
    assert Activity.objects.filter(deal=deal, event_type="deal.updated").count() == 1


def test_a_line_item_that_is_not_a_number_is_refused_even_when_nothing_else_changed(deal: Any, rep: Any) -> None:
    from django.core.exceptions import ValidationError

    items = list(deal.line_items.order_by("pk").values("kind", "name", "quantity", "unit_price"))
    items[0]["quantity"] = "many"
    with pytest.raises(ValidationError):
        crm_services.deal_update(deal=deal, by=rep, line_items=items)


@pytest.fixture
def draft(deal: Any, rep: Any, salesmgr: Any, delivery: Any, account: Any) -> Handover:
    flows.deal_win(deal=deal, by=rep)
    handover = Handover.objects.get(deal=deal)
    alice = account.contacts.get(first_name="Alice")
    handover_services.handover_update(
        handover=handover, by=rep, purchased="Two arms.", vendor_attendees=[rep, salesmgr],
        customer_attendees=[alice], contacts=[(alice, "Signs off")], proposed_delivery_owner=delivery,
    )
    return handover


def test_a_handover_saved_with_the_same_people_writes_no_event(
    draft: Handover, rep: Any, salesmgr: Any, account: Any
) -> None:
    alice = account.contacts.get(first_name="Alice")
    before = _events()
    handover_services.handover_update(
        handover=draft, by=rep, purchased="Two arms.", vendor_attendees=[salesmgr, rep],
        customer_attendees=[alice], contacts=[(alice, "Signs off")],
    )
    assert _events() == before


def test_a_handover_whose_contacts_changed_records_only_that(draft: Handover, rep: Any, account: Any) -> None:
    alice = account.contacts.get(first_name="Alice")
    handover_services.handover_update(handover=draft, by=rep, contacts=[(alice, "Signs off and pays")])
    assert list(draft.contacts.values_list("delivery_role", flat=True)) == ["Signs off and pays"]
    event = Activity.objects.filter(event_type="handover.updated").order_by("-pk").first()
    assert event is not None and event.data["changed"] == ["contacts"]


def test_the_handover_page_shows_and_reads_the_meeting_time_in_the_users_zone(draft: Handover, rep: Any) -> None:
    UserProfile.objects.filter(user=rep).update(time_zone="America/New_York")
    client = client_for(rep)
    page = client.get(f"/handovers/{draft.pk}/").content.decode()
    assert 'name="meeting_at"' in page
    response = client.post(f"/handovers/{draft.pk}/save/", {
        "purchased": "Two arms.", "meeting_at": "2026-11-20T14:30",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    draft.refresh_from_db()
    assert draft.meeting_at == datetime(2026, 11, 20, 14, 30, tzinfo=NEW_YORK)
    page = client.get(f"/handovers/{draft.pk}/").content.decode()
    assert 'value="2026-11-20T14:30"' in page


def test_rescheduling_to_the_time_it_already_has_changes_nothing(
    deal: Any, rep: Any, salesmgr: Any, deliverymgr: Any, delivery: Any
) -> None:
    accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)
    touchpoint = Touchpoint.objects.filter(state=Touchpoint.State.SCHEDULED, owner=delivery).first()
    assert touchpoint is not None
    due = (timezone.now() + timedelta(days=2)).replace(second=0, microsecond=0)
    touchpoint_services.touchpoint_reschedule(touchpoint=touchpoint, by=delivery, due_at=due)
    touchpoint.refresh_from_db()
    version, before = touchpoint.version, _events()
    touchpoint_services.touchpoint_reschedule(touchpoint=touchpoint, by=delivery, due_at=due)
    touchpoint.refresh_from_db()
    assert (touchpoint.version, touchpoint.due_at) == (version, due)
    assert _events() == before


def test_the_dashboards_period_inputs_hold_iso_dates(salesmgr: Any) -> None:
    page = client_for(salesmgr).get("/insights/performance/?start=2026-01-05&end=2026-03-01").content.decode()
    assert 'name="start" value="2026-01-05"' in page
    assert 'name="end" value="2026-03-01"' in page
    assert date(2026, 1, 5).strftime("%d/%m/%Y") not in page
