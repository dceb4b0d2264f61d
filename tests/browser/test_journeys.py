"""Journeys through real pages in headless Chromium."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from playwright.sync_api import expect

from crm import services
from crm.models import Activity
from flows import actions as flows
from tests.browser.conftest import log_in, screenshot


def test_a_rep_logs_a_call_on_the_timeline_without_a_reload(page: Any, rep: Any, account: Any, deal: Any) -> None:
    # Given a rep with an account, logged in through the log-in form
    log_in(page, "rep")
    assert page.url.endswith("/accounts/")
    screenshot(page, "accounts_list")

    # When they open the account from "my accounts"
    page.click(f"text={account.name}")
    page.wait_for_selector("#timeline-list")
    assert page.locator("h1").first.inner_text().startswith(account.name)
    # A marker that a full page load would wipe out
    page.evaluate("window.__stillSamePage = true")

    # And log a call through the htmx form
    page.select_option("select[name=kind]", "call")
    page.fill("input[name=subject]", "Called Alice about the go-live date")
    page.click("text=Log it")

    # Then the call appears on top of the timeline, without a full reload
    expect(page.locator("#timeline-list .tl-item").first).to_contain_text("Called Alice about the go-live date")
    assert page.evaluate("window.__stillSamePage") is True
    assert page.input_value("input[name=subject]") == ""  # a fresh form replaced the old one
    assert Activity.objects.filter(account=account, kind="call", subject__startswith="Called Alice").count() == 1
    screenshot(page, "account_page")
    assert page.console_errors == []  # type: ignore[attr-defined]


def test_the_form_shows_an_error_next_to_the_subject_in_place(page: Any, rep: Any, account: Any) -> None:
    log_in(page, "rep")
    page.goto(f"/accounts/{account.pk}/")
    page.evaluate("window.__stillSamePage = true")
    page.click("text=Log it")
    page.wait_for_selector("#log-activity .error")
    assert "required" in page.locator("#log-activity .error").first.inner_text()
    assert page.evaluate("window.__stillSamePage") is True


def test_older_timeline_entries_load_in_place(page: Any, rep: Any, account: Any) -> None:
    now = timezone.now()
    for i in range(40):
        services.activity_log(account=account, by=rep, kind="note", subject=f"Note {i}", occurred_at=now - timedelta(hours=i + 1))
    log_in(page, "rep")
    page.goto(f"/accounts/{account.pk}/")
    before = page.locator("#timeline-list .tl-item").count()
    page.click("text=Older entries")
    assert before == 30  # one page of the timeline
    expect(page.locator("#timeline-list .tl-item")).to_have_count(Activity.objects.filter(account=account).count())
    expect(page.locator(".tl-older")).to_have_count(0)


def test_a_manager_sees_the_pipeline_and_previews_a_book_reassignment(
    page: Any, salesmgr: Any, rep: Any, rep2: Any, account: Any, deal: Any, other_account: Any, other_deal: Any,
) -> None:
    for i, stage in enumerate(["qualified", "proposal", "negotiation"]):
        acc = services.account_create(by=rep, name=f"Northwind {i}", city="Paris", industry="Retail")
        d = services.deal_create(account=acc, by=rep, name=f"Northwind rollout {i}", value=str(12000 * (i + 1)))
        services.deal_move(deal=d, by=rep, to=stage)
    won = services.deal_create(account=account, by=rep, name="Acme support plan", value="6000")
    flows.deal_win(deal=won, by=rep)
    lost = services.deal_create(account=other_account, by=rep2, name="Globex pilot", value="3000")
    services.deal_lose(deal=lost, by=rep2, reason="Budget frozen")

    log_in(page, "salesmgr")
    page.goto("/deals/pipeline/")
    for label in ("Lead", "Qualified", "Proposal", "Negotiation", "Won", "Lost"):
        assert page.locator(f".board-head >> text={label}").count() == 1
    assert page.locator(".deal-card").count() == 7
    screenshot(page, "pipeline")

    page.goto("/reassign/book/")
    page.select_option("select[name=from_user]", str(rep.pk))
    page.select_option("select[name=to_user]", str(rep2.pk))
    page.fill("textarea[name=note]", "Rep is moving to the partner team; Acme expects the go-live call on Friday.")
    page.click("text=Preview")
    page.wait_for_selector("text=Preview:")
    assert page.locator("table tbody tr").count() == 4
    screenshot(page, "book_reassign_preview")

    page.click("button.button-danger")
    page.wait_for_selector(".message-success")
    assert "Moved 4 accounts" in page.locator(".message-success").inner_text()
    account.refresh_from_db()
    assert account.owner == rep2
    assert page.console_errors == []  # type: ignore[attr-defined]


def test_the_layout_works_on_a_phone(browser: Any, live_server: Any, rep: Any, account: Any, deal: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, base_url=live_server.url, is_mobile=True)
    page = context.new_page()
    try:
        log_in(page, "rep")
        page.goto(f"/accounts/{account.pk}/")
        # Nothing wider than the screen: no sideways scrolling on the account page
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(page, "account_page_phone")
        page.goto("/accounts/")
        screenshot(page, "accounts_list_phone")
    finally:
        context.close()


def test_a_rep_loses_a_deal_only_with_a_reason(page: Any, rep: Any, account: Any, deal: Any) -> None:
    log_in(page, "rep")
    page.goto(f"/deals/{deal.pk}/")
    screenshot(page, "deal_detail")
    page.click("text=Mark as lost")
    expect(page.locator(".error")).to_contain_text("Say why the deal was lost")
    page.fill("textarea[name=reason]", "Chose a cheaper competitor")
    page.click("text=Mark as lost")
    expect(page.locator(".message-success")).to_contain_text("marked as lost")
    deal.refresh_from_db()
    assert deal.stage == "lost"
    page.goto(f"/accounts/{account.pk}/deals/new/")
    page.click("text=Open deal")
    expect(page.locator("#id_name_error")).to_be_visible()
    screenshot(page, "deal_form_errors")
