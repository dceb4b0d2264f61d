"""Finding anything and working through lists, end to end in one browser (issue 17's journey):
a rep types a contact's phone fragment in the header and lands on the account, moves a deal to
"negotiation" on the pipeline board (dragging it on a wide screen, its Move menu on a phone),
saves a view of the deals list, exports it and reads the CSV, then submits the deal's handover;
the sales manager's bell shows the review request that the email also brought, and the manager
merges a duplicate account, which the survivor's timeline records."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from crm import services
from crm.models import Account, Deal
from flows import actions as flows
from handover import services as handover_services
from handover.models import Handover
from outbox.models import Notice, Notification
from saved_views.models import SavedView
from tests.browser.conftest import log_in, nav_to, screenshot


def test_a_rep_finds_moves_saves_and_exports_and_a_manager_is_told_and_merges(
    page: Any, rep: Any, salesmgr: Any, account: Any, deal: Any,
) -> None:
    services.contact_create(account=account, by=rep, first_name="Anna", last_name="Schmidt",
                            phone="+49 30 1234 567", email="anna.schmidt@acme.example")
    twin = services.account_create(by=salesmgr, name="ACME Robotics SA", owner=rep)
    services.contact_create(account=twin, by=salesmgr, first_name="Dora", last_name="Lefèvre")
    mail.outbox.clear()  # locmem: the live server runs in a thread of this process
    log_in(page, "rep")

    # The rep types a phone fragment, in another notation, in the header's search box.
    page.locator("body").press("/")
    box = page.locator("#topsearch-q")
    expect(box).to_be_focused()
    box.fill("030-1234")
    box.press("Enter")
    page.wait_for_url("**/search/?q=030-1234")
    result = page.locator(".search-group", has_text="Contacts").locator(".search-result").first
    expect(result).to_contain_text("Anna Schmidt")
    expect(result).to_contain_text("phone matches")
    result.locator("a").click()
    page.wait_for_url(f"**/accounts/{account.pk}/")

    # On the pipeline board the deal goes to "negotiation": dragged with a mouse, or through the
    # card's Move menu on a phone. Both go through the same service.
    nav_to(page, "Pipeline")
    card = page.locator(".deal-card", has_text="Acme line 2")
    if page.viewport_size["width"] > 1000:
        card.drag_to(page.locator('.board-col[data-stage="negotiation"]'))
        expect(page.locator("#board-status")).to_have_text("Acme line 2 moved to Negotiation.")
    else:
        card.locator("summary", has_text="Move").click()
        card.locator("select[name=to]").select_option("negotiation")
        card.locator("button", has_text="Move").click()
        page.wait_for_load_state("load")
    expect(page.locator('.board-col[data-stage="negotiation"] .deal-card', has_text="Acme line 2")).to_have_count(1)
    deal.refresh_from_db()
    assert deal.stage == Deal.Stage.NEGOTIATION

    # The deals list filtered to that stage, saved as a view, opened again and exported.
    nav_to(page, "Deals")
    page.locator("label.choice-pill", has_text="Negotiation").click()
    page.click("button:has-text('Filter')")
    page.wait_for_load_state("load")
    assert "stage=negotiation" in page.url
    page.locator("summary", has_text="Save this view").click()
    page.fill("#saved-view-name", "In negotiation")
    page.click("button:has-text('Save view')")
    page.wait_for_load_state("load")
    assert SavedView.objects.get(user=rep).name == "In negotiation"
    nav_to(page, "Deals")
    page.locator(".saved-views a", has_text="In negotiation").click()
    page.wait_for_load_state("load")
    expect(page.locator("table.table-deals tbody tr")).to_have_count(1)
    with page.expect_download() as download:
        page.click("text=Export CSV")
    with open(download.value.path(), encoding="utf-8-sig") as handle:
        exported = list(csv.reader(io.StringIO(handle.read())))
    assert exported[0][:5] == ["Deal", "Account", "Stage", "Amount", "Currency"]
    assert [row[:5] for row in exported[1:]] == [["Acme line 2", "Acme Robotics", "Negotiation", "48000.00", "EUR"]]
    screenshot(page, "journey_saved_view")

    # The deal is won and its handover made ready; the rep submits it for review.
    flows.deal_win(deal=deal, by=rep)
    handover = handover_services.handover_update(
        handover=Handover.objects.get(deal=deal), by=rep, customer_expectations="Line 2 running before the peak.",
        meeting_at=timezone.now() - timedelta(hours=2), meeting_held=True, meeting_minutes="Walked through it.",
    )
    page.goto(f"/handovers/{handover.pk}/")
    page.click("text=Submit the handover")
    expect(page.locator(".message-success")).to_contain_text("submitted")

    # The sales manager's bell shows the review request; the same outbox row emailed them.
    page.context.clear_cookies()
    log_in(page, "salesmgr")
    bell = page.locator("details.bell")
    expect(bell.locator(".bell-count")).to_have_text("1")
    bell.locator("summary").click()
    entry = bell.locator(".notification.is-unread")
    expect(entry).to_contain_text(f"Review request: {account.name}")
    notice = Notice.objects.get(kind="handover.review_request")
    assert Notification.objects.filter(notice=notice, user=salesmgr).count() == 1
    [email] = [m for m in mail.outbox if m.to == [salesmgr.email]]
    assert email.subject.startswith(f"Review request: {account.name}")
    entry.locator("button").click()
    page.wait_for_url(f"**/handovers/{handover.pk}/")

    # The manager merges the duplicate account into Acme; the survivor's timeline says so.
    page.goto(f"/accounts/{twin.pk}/")
    page.click("#merge-into")
    page.check(f"input[name=into][value='{account.pk}']")
    page.click("text=Next: see what moves")
    page.click("#confirm-merge")
    page.wait_for_url(f"**/accounts/{account.pk}/")
    expect(page.locator("#timeline-list")).to_contain_text(
        f"Merged ACME Robotics SA (#{twin.pk}) into Acme Robotics (#{account.pk}) by Salesmgr"
    )
    assert Account.objects.get(pk=twin.pk).merged_into_id == account.pk
    screenshot(page, "journey_merged")
