"""The header search in a real browser: a rep types a contact's phone fragment in the header,
presses Enter and lands on the account through the contact's result."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from crm import services
from tests.browser.conftest import log_in, screenshot


def test_a_rep_finds_a_contact_by_a_phone_fragment_and_lands_on_the_account(page: Any, rep: Any, account: Any) -> None:
    # Given a contact with a phone number in international notation on the rep's account
    services.contact_create(account=account, by=rep, first_name="Anna", last_name="Schmidt",
                            phone="+49 30 1234 567", email="anna.schmidt@acme.example")
    for i in range(6):
        services.account_create(by=rep, name=f"Acme Branch {i}", city="Lyon")
    log_in(page, "rep")
    screenshot(page, "search_header")

    # When they press "/" anywhere on the page, the header box takes the focus
    page.locator("body").press("/")
    box = page.locator("#topsearch-q")
    expect(box).to_be_focused()

    # And they type the fragment in national notation and press Enter
    box.fill("030-1234")
    box.press("Enter")
    page.wait_for_url("**/search/?q=030-1234")
    result = page.locator(".search-group", has_text="Contacts").locator(".search-result").first
    expect(result).to_contain_text("Anna Schmidt")
    expect(result).to_contain_text("phone matches")
    expect(result.locator("mark")).to_have_text("30 1234")
    screenshot(page, "search_results_phone")

    # Then the contact's result leads to the account page
    result.locator("a").click()
    page.wait_for_url(f"**/accounts/{account.pk}/")
    expect(page.locator("h1").first).to_contain_text(account.name)


def test_slash_is_typed_not_stolen_inside_a_field_and_results_look_right(page: Any, rep: Any, account: Any) -> None:
    for i in range(7):
        services.account_create(by=rep, name=f"Acme Branch {i}", city="Lyon", industry="Manufacturing")
    services.deal_create(account=account, by=rep, name="Acme line 3", value="10", currency="EUR")
    log_in(page, "rep")
    field = page.locator("input[name=q]").last  # the accounts list's own search field
    field.click()
    field.type("a/b")
    expect(field).to_have_value("a/b")
    expect(page.locator("#topsearch-q")).not_to_be_focused()

    page.locator("#topsearch-q").fill("acme")
    page.locator("#topsearch-q").press("Enter")
    page.wait_for_url("**/search/?q=acme")
    expect(page.locator(".search-more a", has_text="more accounts")).to_be_visible()
    screenshot(page, "search_results")


def test_with_a_long_navigation_the_box_is_a_magnifier_that_opens_on_slash(page: Any, account: Any) -> None:
    from crm import roles
    from tests.scenarios import make_user

    make_user("everyone", roles.SALES_REP, roles.PRESALES, roles.SALES_MANAGER, roles.DELIVERY_MANAGER,
              roles.DELIVERY_TEAM, roles.ADMINISTRATOR, is_staff=True)
    log_in(page, "everyone")
    box = page.locator("#topsearch-q")
    expect(box).to_be_visible()
    page.locator("body").press("/")
    expect(box).to_be_focused()
    box.fill("acme")
    if page.width > 1000:
        assert box.bounding_box()["width"] >= 250  # opened over the links
    screenshot(page, "search_header_long_nav", full_page=False)
    box.press("Enter")
    page.wait_for_url("**/search/?q=acme")
    expect(page.locator(".search-group", has_text="Accounts")).to_contain_text("Acme Robotics")
