"""The contacts and deals lists in a real browser: a rep filters the deals list, saves the view,
opens it again from the saved views bar and downloads the export, then reads the CSV; both lists
are looked at (and photographed) at 1280 and 390 px with no console error and no sideways scroll."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from playwright.sync_api import expect

from crm import services
from flows import actions as flows
from saved_views.models import SavedView
from tests.browser.conftest import log_in, nav_to, screenshot


def _deals(account: Any, rep: Any) -> None:
    proposal = services.deal_create(account=account, by=rep, name="Acme conveyor retrofit with a long name",
                                    value="64000", expected_close_date=date(2027, 3, 31))
    services.deal_move(deal=proposal, by=rep, to="proposal")
    talks = services.deal_create(account=account, by=rep, name="Acme spare parts", value="2500")
    services.deal_move(deal=talks, by=rep, to="negotiation")
    won = services.deal_create(account=account, by=rep, name="Acme welding cell", value="150000")
    flows.deal_win(deal=won, by=rep)
    services.contact_update(contact=account.contacts.get(first_name="Alice"), by=rep, phone="+33 4 72 10 20 30",
                            title="Head of production engineering")


def test_a_rep_filters_the_deals_saves_the_view_opens_it_again_and_exports_it(
    page: Any, rep: Any, account: Any, deal: Any,
) -> None:
    _deals(account, rep)
    log_in(page, "rep")

    # The deals list, from the main navigation
    nav_to(page, "Deals")
    assert page.url.endswith("/deals/")
    expect(page.locator("table.table-deals tbody tr")).to_have_count(4)
    screenshot(page, "deal_list")

    # Filter: the proposal and negotiation stages, at least 1,000
    page.locator("label.choice-pill", has_text="Proposal").click()
    page.locator("label.choice-pill", has_text="Negotiation").click()
    page.fill("input[name=amount_min]", "1000")
    page.click("button:has-text('Filter')")
    page.wait_for_load_state("load")
    assert "stage=proposal" in page.url and "stage=negotiation" in page.url
    rows = page.locator("table.table-deals tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("table.table-deals")).not_to_contain_text("Acme welding cell")

    # Sort by amount (largest first), the filters kept
    page.locator("th a.sort-link", has_text="Amount").click()
    page.wait_for_load_state("load")
    assert "sort=-amount" in page.url and "stage=proposal" in page.url
    expect(rows.first).to_contain_text("Acme conveyor retrofit")

    # Save the view
    page.locator("summary", has_text="Save this view").click()
    page.fill("#saved-view-name", "Late-stage deals")
    screenshot(page, "deal_list_saving")
    page.click("button:has-text('Save view')")
    page.wait_for_load_state("load")
    expect(page.locator(".messages")).to_contain_text("Late-stage deals")
    view = SavedView.objects.get()
    assert view.user == rep and "stage=proposal" in view.query and "sort=-amount" in view.query

    # Open the whole list, then the saved view again from the bar
    nav_to(page, "Deals")
    expect(page.locator("table.table-deals tbody tr")).to_have_count(4)
    page.locator(".saved-views a", has_text="Late-stage deals").click()
    page.wait_for_load_state("load")
    expect(page.locator("table.table-deals tbody tr")).to_have_count(2)
    expect(page.locator(".saved-view.is-current")).to_contain_text("Late-stage deals")
    screenshot(page, "deal_list_saved_view")

    # Export what is shown, and read it
    with page.expect_download() as download:
        page.click("text=Export CSV")
    path = download.value.path()
    assert download.value.suggested_filename.startswith("keepwarm-deals-")
    with open(path, encoding="utf-8-sig") as handle:
        exported = list(csv.reader(io.StringIO(handle.read())))
    assert exported[0][:5] == ["Deal", "Account", "Stage", "Amount", "Currency"]
    assert [row[:5] for row in exported[1:]] == [
        ["Acme conveyor retrofit with a long name", "Acme Robotics", "Proposal", "64000.00", "EUR"],
        ["Acme spare parts", "Acme Robotics", "Negotiation", "2500.00", "EUR"],
    ]


def test_the_contacts_list_filters_and_sorts(page: Any, rep: Any, account: Any, other_account: Any, deal: Any) -> None:
    _deals(account, rep)
    log_in(page, "rep")
    nav_to(page, "Contacts")
    assert page.url.endswith("/contacts/")
    rows = page.locator("table.table-contacts tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("table.table-contacts")).not_to_contain_text("Greta")
    screenshot(page, "contact_list")
    page.fill("form.filters input[name=q]", "72 10")  # the list's own field, not the header's box
    page.click("button:has-text('Filter')")
    page.wait_for_load_state("load")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Alice Martin")
    page.goto("/contacts/?sort=-name")
    expect(rows.first).to_contain_text("Bruno Petit")
