"""A manager merges a duplicate account through the pages and the survivor's timeline shows it
(issue 17's "done when"); a rep creating a duplicate is warned first and may create it anyway."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from crm import services
from crm.models import Account
from tests.browser.conftest import log_in, screenshot


def test_a_manager_merges_a_duplicate_account_and_the_timeline_shows_it(
    page: Any, account: Any, salesmgr: Any, rep: Any,
) -> None:
    # Given Acme entered twice, once with a contact of its own
    twin = services.account_create(by=salesmgr, name="ACME Robotics SA", owner=rep)
    services.contact_create(account=twin, by=salesmgr, first_name="Dora", last_name="Lefèvre")
    log_in(page, "salesmgr")

    # When the manager opens the duplicate and chooses "Merge into…"
    page.goto(f"/accounts/{twin.pk}/")
    page.click("#merge-into")
    expect(page.locator("h1")).to_contain_text("Merge ACME Robotics SA into another account")
    # The likely duplicate is offered; a search by name finds it too
    page.fill("#merge-q", "acme rob")
    page.click(".merge-search button[type=submit]")
    page.check(f"input[name=into][value='{account.pk}']")
    screenshot(page, "account_merge")
    page.click("text=Next: see what moves")

    # Then they see what will move, and confirm
    expect(page.locator("h1")).to_contain_text(f"into Acme Robotics (#{account.pk})?")
    expect(page.locator(".merge-moving")).to_contain_text("Contacts")
    screenshot(page, "account_merge_confirm")
    page.click("#confirm-merge")

    # And land on the survivor, whose timeline records the merge, with Dora among its contacts
    page.wait_for_url(f"**/accounts/{account.pk}/")
    expect(page.locator("#timeline-list")).to_contain_text(
        f"Merged ACME Robotics SA (#{twin.pk}) into Acme Robotics (#{account.pk}) by Salesmgr"
    )
    expect(page.locator("aside")).to_contain_text("Dora Lefèvre")
    screenshot(page, "account_merged")
    assert Account.objects.get(pk=twin.pk).merged_into_id == account.pk

    # The duplicate's old address leads to the survivor, saying so
    page.goto(f"/accounts/{twin.pk}/")
    page.wait_for_url(f"**/accounts/{account.pk}/")
    expect(page.locator(".messages")).to_contain_text(f"Account #{twin.pk} was merged into Acme Robotics")


def test_a_rep_is_warned_of_a_duplicate_and_creates_it_anyway(page: Any, account: Any, rep: Any) -> None:
    log_in(page, "rep")
    page.goto("/accounts/new/")
    page.fill("input[name=name]", "ACME robotics, Inc.")
    page.click("form.form button[type=submit]")
    expect(page.locator("#duplicates")).to_contain_text("This account may already exist.")
    expect(page.locator("#duplicates a")).to_have_text("Acme Robotics")
    screenshot(page, "account_duplicate_warning")
    assert not Account.objects.filter(name="ACME robotics, Inc.").exists()
    page.click("#create-anyway")
    expect(page.locator("h1")).to_contain_text("ACME robotics, Inc.")
    assert Account.objects.filter(name="ACME robotics, Inc.").count() == 1


def test_an_archived_account_shows_its_banner_and_comes_back(page: Any, account: Any, rep: Any) -> None:
    log_in(page, "rep")
    page.goto(f"/accounts/{account.pk}/")
    page.click("#archive-account")
    expect(page.locator("#archived-banner")).to_contain_text("Archived")
    screenshot(page, "account_archived")
    page.click("#restore-account")
    expect(page.locator("#archived-banner")).to_have_count(0)
    expect(page.locator(".messages")).to_contain_text("Acme Robotics restored.")


def test_a_manager_merges_a_duplicate_contact(page: Any, account: Any, salesmgr: Any, rep: Any) -> None:
    twin = services.contact_create(account=account, by=rep, first_name="Alice", last_name="M.",
                                   email="ALICE@acme.example", phone="+33 4 72 00 00 00")
    log_in(page, "salesmgr")
    page.goto(f"/contacts/{twin.pk}/merge/")
    expect(page.locator("h1")).to_contain_text("Merge Alice M. into another contact")
    screenshot(page, "contact_merge")
    page.click("text=Next: see what moves")  # Alice Martin, with the same email, is chosen already
    screenshot(page, "contact_merge_confirm")
    page.click("#confirm-merge")
    page.wait_for_url(f"**/accounts/{account.pk}/")
    expect(page.locator("#timeline-list")).to_contain_text("Merged contact Alice M.")
    expect(page.locator("aside")).to_contain_text("+33 4 72 00 00 00")  # Alice Martin took the phone number
