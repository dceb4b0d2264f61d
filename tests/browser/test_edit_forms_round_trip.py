"""Every edit form of the product, opened in Chromium on an object with every field filled and
saved without touching anything, leaves the object as it was, field by field, and writes no
event claiming a change. Date inputs given a localized value ("29/01/2027") show an empty box and
post it back empty: pressing Save used to erase the deal's expected close date, the promise's and
the stage's due dates and the contact's leaving date.

What counts as an edit form (`test_every_edit_form_of_the_product_is_covered` applies the rule):
a URL of the product's apps whose view rewrites an existing object through a service named
`<thing>_update`, `<thing>_reschedule` or `<thing>_reset` (the services' naming rule), or whose
URL name ends in `_edit` or `_update`. Each such URL is either round-tripped below (COVERED) or
listed in NOT_EDIT_FORMS with the reason it has no form showing the object's values. A new edit
form fails the guard until it is added to one of them. Django's admin is not the product's UI and
its forms use the admin's own widgets; the API has no forms.
"""

from __future__ import annotations

import inspect
import pprint
import re
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import models
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from playwright.sync_api import expect

from crm import services as crm_services
from crm.models import Account, Activity, Contact, Deal, UserProfile
from delivery.models import Stage
from flows import actions as flows
from handover import services as handover_services
from handover.models import Handover, HandoverContact, Promise
from tests.browser.conftest import log_in
from tests.scenarios import accept_deal
from touchpoints.models import Touchpoint

PRODUCT_NAMESPACES = ("crm", "handover", "delivery", "touchpoints", "insights")
EDIT_SERVICE = re.compile(r"(services|flows)\.\w+_(update|reschedule|reset)\(")
EDIT_NAME = re.compile(r"_(edit|update)$")

COVERED = {
    "crm:account_edit",
    "crm:contact_edit",
    "crm:deal_edit",
    "crm:profile",
    "handover:promise_edit",
    "handover:handover_save",
    "delivery:stage_edit",
    "touchpoints:touchpoint_reschedule",
}
NOT_EDIT_FORMS = {
    "crm:contact_left": "one button (the person has left); no form shows the contact's values",
    "handover:promise_reset": "records a new reset on an active promise; its form starts empty",
    "touchpoints:calendar_settings": "buttons that create, reset or turn off the feed; no fields",
}

# Rep and delivery work in zones far from UTC, so a datetime-local shown in one zone and read
# back in another would move.
REP_ZONE = "America/New_York"
DELIVERY_ZONE = "Asia/Kolkata"


# --- The coverage guard -------------------------------------------------------------------------


def _product_urls(resolver: URLResolver | None = None, namespace: str = "") -> Iterator[tuple[str, Any]]:
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}:{entry.namespace}" if namespace and entry.namespace else (entry.namespace or namespace)
            yield from _product_urls(entry, inner)
        elif isinstance(entry, URLPattern) and entry.name and namespace in PRODUCT_NAMESPACES:
            yield f"{namespace}:{entry.name}", entry.callback


def edit_urls() -> set[str]:
    found = set()
    for name, view in _product_urls():
        source = inspect.getsource(inspect.unwrap(view))
        if EDIT_NAME.search(name.split(":")[1]) or EDIT_SERVICE.search(source):
            found.add(name)
    return found


def test_every_edit_form_of_the_product_is_covered() -> None:
    found = edit_urls()
    missing = found - COVERED - set(NOT_EDIT_FORMS)
    assert not missing, f"Edit forms without a round-trip test: {sorted(missing)}"
    # The table names only what exists, so a renamed URL is noticed too.
    assert COVERED | set(NOT_EDIT_FORMS) <= found, sorted((COVERED | set(NOT_EDIT_FORMS)) - found)


def test_the_guard_finds_a_form_missing_from_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(f"{__name__}.COVERED", COVERED - {"crm:deal_edit"})
    with pytest.raises(AssertionError, match="crm:deal_edit"):
        test_every_edit_form_of_the_product_is_covered()


# --- The world: every field filled --------------------------------------------------------------


def _fields(instance: models.Model) -> dict[str, Any]:
    """Every stored field except the ones Django stamps on each save (`auto_now`)."""
    instance.refresh_from_db()
    return {
        field.attname: getattr(instance, field.attname)
        for field in instance._meta.concrete_fields
        if not getattr(field, "auto_now", False)
    }


@dataclass
class EditForm:
    url_name: str
    user: str
    url: str
    submit: Callable[[Any], None]
    snapshot: Callable[[], dict[str, Any]]


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _set_zone(user: Any, zone: str) -> None:
    UserProfile.objects.update_or_create(user=user, defaults={"time_zone": zone})


@pytest.fixture
def world(rep: Any, rep2: Any, salesmgr: Any, deliverymgr: Any, delivery: Any, account: Any, deal: Any) -> dict[str, Any]:
    UserProfile.objects.update_or_create(user=rep, defaults={
        "phone": "+1 212 555 0101", "time_zone": REP_ZONE, "work_starts": time(8, 30), "work_ends": time(16, 45),
        "manager": salesmgr,
    })
    _set_zone(delivery, DELIVERY_ZONE)

    crm_services.account_update(
        account=account, by=rep, website="https://acme.example/robots", industry="Manufacturing", city="Lyon",
        country="France", lifecycle=Account.Lifecycle.CUSTOMER, notes="Two plants.\nLine 2 is the priority.",
    )
    alice = account.contacts.get(first_name="Alice")
    flows.contact_update(
        contact=alice, by=rep, title="Head of operations", phone="+33 4 00 00 00 01",
        preferred_channel=Contact.Channel.PHONE, best_time="Mornings before 10", is_primary=True,
    )
    bruno = account.contacts.get(first_name="Bruno")
    flows.contact_update(
        contact=bruno, by=rep, title="Plant engineer", phone="+33 4 00 00 00 02", best_time="Tuesdays",
        preferred_channel=Contact.Channel.PHONE, do_not_contact=True, is_active=False, left_at=date(2026, 10, 29),
    )

    crm_services.deal_update(
        deal=deal, by=rep, name="Acme line 2", value=Decimal("48000.00"), currency="USD",
        expected_close_date=date(2027, 1, 29),
    )
    promise = handover_services.promise_record(
        deal=deal, by=rep, kind=Promise.Kind.SUPPORT, description="A technician on site\nduring the first week.",
        source=Promise.Source.PROPOSAL, source_reference="Proposal p. 4", due_date=date(2027, 2, 28), made_to=alice,
    )

    # A won deal whose handover the rep is still preparing.
    drafted = crm_services.deal_create(account=account, by=rep, name="Acme spares", value="9000", currency="EUR")
    flows.deal_win(deal=drafted, by=rep)
    handover = Handover.objects.get(deal=drafted)
    handover_services.handover_update(
        handover=handover, by=rep, purchased="Spare parts\nfor two years.", customer_expectations="No downtime.",
        risks="Customs delays.", meeting_at=_minute(timezone.now() - timedelta(days=1)), meeting_held=True,
        meeting_minutes="Agreed the delivery plan.\nAlice signs off.", proposed_delivery_owner=delivery,
        vendor_attendees=[rep, salesmgr], customer_attendees=[alice],
        contacts=[(alice, "Signs off"), (bruno, "Knows the line")],
    )

    # A third deal, accepted: its delivery runs and its check-ups are scheduled.
    accepted = crm_services.deal_create(
        account=account, by=rep, name="Acme line 3", value="30000",
        line_items=[{"kind": "product", "name": "Robot arm", "quantity": 1, "unit_price": "30000"}],
    )
    project = accept_deal(accepted, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)
    stage = project.stages.order_by("position", "pk").first()
    from delivery import services as delivery_services

    delivery_services.stage_update(
        stage=stage, by=delivery, due_date=date(2027, 3, 15), description="Install and test.",
        delivered="Both arms installed.\nTested with the customer.",
    )
    delivery_services.stage_set_promises(
        stage=stage, by=delivery, promises=list(Promise.objects.filter(deal=accepted)),
    )
    touchpoint = Touchpoint.objects.filter(account=account, state=Touchpoint.State.SCHEDULED, owner=delivery).first()
    assert touchpoint is not None
    Touchpoint.objects.filter(pk=touchpoint.pk).update(due_at=_minute(timezone.now() + timedelta(days=1)))

    return {"rep": rep, "delivery": delivery, "account": account, "alice": alice, "bruno": bruno, "deal": deal,
            "promise": promise, "handover": handover, "stage": stage, "touchpoint": touchpoint}


def _click_and_wait(page: Any, button: Any, url_part: str) -> None:
    """Submits and checks the POST was accepted: a refused form would change nothing as well."""
    with page.expect_response(lambda r: url_part in r.url and r.request.method == "POST") as answer:
        button.click()
    assert answer.value.status < 400, f"{url_part} answered {answer.value.status}"
    page.wait_for_load_state("load")


def _page_form(path: str, button: str) -> Callable[[Any], None]:
    def submit(page: Any) -> None:
        page.goto(path)
        _click_and_wait(page, page.locator("form.form button[type=submit]", has_text=button), path)

    return submit


def _promise_form(promise: Promise) -> Callable[[Any], None]:
    def submit(page: Any) -> None:
        page.goto(f"/deals/{promise.deal_id}/promises/")
        row = page.locator(f"#promise-{promise.pk}")
        row.locator("summary", has_text="Edit").click()
        _click_and_wait(page, row.locator("button", has_text="Save promise"), f"/promises/{promise.pk}/edit/")
        page.locator(f"#promise-{promise.pk} .promise-flash").wait_for()

    return submit


def _handover_form(handover: Handover) -> Callable[[Any], None]:
    def submit(page: Any) -> None:
        page.goto(f"/handovers/{handover.pk}/")
        _click_and_wait(page, page.locator("button", has_text="Save the handover"), f"/handovers/{handover.pk}/save/")

    return submit


def _reschedule_form(touchpoint: Touchpoint) -> Callable[[Any], None]:
    def submit(page: Any) -> None:
        page.goto("/my-week/")
        row = page.locator(f"#touchpoint-{touchpoint.pk}")
        row.locator("summary", has_text="Reschedule").click()
        _click_and_wait(page, row.locator("button", has_text="Move it"), f"/touchpoints/{touchpoint.pk}/reschedule/")
        expect(page.locator(f"#touchpoint-{touchpoint.pk}")).to_contain_text("nothing was changed")

    return submit


def _handover_snapshot(handover: Handover) -> dict[str, Any]:
    return {
        **_fields(handover),
        "vendor_attendees": sorted(handover.vendor_attendees.values_list("pk", flat=True)),
        "customer_attendees": sorted(handover.customer_attendees.values_list("pk", flat=True)),
        "contacts": sorted(HandoverContact.objects.filter(handover=handover).values_list("contact_id", "delivery_role")),
    }


def _deal_snapshot(deal: Deal) -> dict[str, Any]:
    return {**_fields(deal), "line_items": list(deal.line_items.order_by("pk").values())}


def _stage_snapshot(stage: Stage) -> dict[str, Any]:
    return {**_fields(stage), "promises": sorted(stage.promises.values_list("pk", flat=True))}


def edit_forms(w: dict[str, Any]) -> list[EditForm]:
    account, deal, promise, handover, stage, touchpoint = (
        w["account"], w["deal"], w["promise"], w["handover"], w["stage"], w["touchpoint"]
    )
    profile = UserProfile.objects.get(user=w["rep"])
    forms = [
        EditForm("crm:account_edit", "rep", f"/accounts/{account.pk}/edit/",
                 _page_form(f"/accounts/{account.pk}/edit/", "Save"), lambda: _fields(account)),
        EditForm("crm:deal_edit", "rep", f"/deals/{deal.pk}/edit/",
                 _page_form(f"/deals/{deal.pk}/edit/", "Save"), lambda: _deal_snapshot(deal)),
        EditForm("crm:profile", "rep", "/profile/", _page_form("/profile/", "Save"), lambda: _fields(profile)),
        EditForm("handover:promise_edit", "rep", f"/promises/{promise.pk}/edit/", _promise_form(promise),
                 lambda: _fields(promise)),
        EditForm("handover:handover_save", "rep", f"/handovers/{handover.pk}/save/", _handover_form(handover),
                 lambda: _handover_snapshot(handover)),
        EditForm("delivery:stage_edit", "delivery", f"/stages/{stage.pk}/edit/",
                 _page_form(f"/stages/{stage.pk}/edit/", "Save the stage"), lambda: _stage_snapshot(stage)),
        EditForm("touchpoints:touchpoint_reschedule", "delivery", f"/touchpoints/{touchpoint.pk}/reschedule/",
                 _reschedule_form(touchpoint), lambda: _fields(touchpoint)),
    ]
    # Both contacts: one still there and primary, one who left (with the date she left).
    for contact in (w["alice"], w["bruno"]):
        forms.append(EditForm("crm:contact_edit", "rep", f"/contacts/{contact.pk}/edit/",
                              _page_form(f"/contacts/{contact.pk}/edit/", "Save"),
                              lambda contact=contact: _fields(contact)))
    return forms


def test_every_edit_form_saved_unchanged_changes_nothing(page: Any, world: dict[str, Any]) -> None:
    forms = edit_forms(world)
    assert {f.url_name for f in forms} == COVERED
    changed: dict[str, Any] = {}
    signed_in = ""
    for form in forms:
        if form.user != signed_in:
            page.context.clear_cookies()
            log_in(page, form.user)
            signed_in = form.user
        before = form.snapshot()
        events_before = set(Activity.objects.values_list("pk", flat=True))
        form.submit(page)
        after = form.snapshot()
        differences = {name: (before[name], after.get(name)) for name in before if before[name] != after.get(name)}
        if differences:
            changed[form.url] = differences
        new_events = list(
            Activity.objects.exclude(pk__in=events_before).values_list("event_type", "subject")
        )
        if new_events:
            changed[f"{form.url} (events)"] = new_events
    assert not changed, pprint.pformat(changed, width=200)
    assert not page.console_errors


def test_the_datetimes_shown_are_in_the_users_zone(page: Any, world: dict[str, Any]) -> None:
    """The round trip above would also pass if both ways used UTC: the inputs show local time."""
    handover, touchpoint = world["handover"], world["touchpoint"]
    handover.refresh_from_db()
    touchpoint.refresh_from_db()
    log_in(page, "rep")
    page.goto(f"/handovers/{handover.pk}/")
    local = handover.meeting_at.astimezone(zoneinfo.ZoneInfo(REP_ZONE))
    assert page.input_value("input[name=meeting_at]") == local.strftime("%Y-%m-%dT%H:%M")
    page.context.clear_cookies()
    log_in(page, "delivery")
    page.goto("/my-week/")
    local = touchpoint.due_at.astimezone(zoneinfo.ZoneInfo(DELIVERY_ZONE))
    assert page.input_value(f"#touchpoint-{touchpoint.pk} input[name=due_at]") == local.strftime("%Y-%m-%dT%H:%M")
