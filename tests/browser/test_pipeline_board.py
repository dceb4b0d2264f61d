"""The pipeline board in headless Chromium: dragging a card to another stage (on a wide screen;
on a phone the card's Move menu does it), the win form a drop on "won" opens, a refused drop
putting the card back, "Show more" per stage, and the deal page's stage bar."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from crm import services
from crm.models import Activity, Deal
from tests.browser.conftest import log_in, screenshot


def _column(page: Any, stage: str) -> Any:
    return page.locator(f'.board-col[data-stage="{stage}"]')


def _card(page: Any, name: str) -> Any:
    return page.locator(".deal-card", has_text=name)


def _drag_only_on_a_wide_screen(page: Any) -> None:
    if page.viewport_name != "desktop":
        pytest.skip("dragging is for a mouse; on a touch screen the card's Move menu moves it (tested below)")


def test_a_rep_drags_a_deal_to_negotiation(page: Any, rep: Any, account: Any, deal: Any) -> None:
    _drag_only_on_a_wide_screen(page)
    log_in(page, "rep")
    page.goto("/deals/pipeline/")
    expect(_column(page, "lead")).to_contain_text("Acme line 2")
    page.evaluate("window.__stillSamePage = true")

    _card(page, "Acme line 2").drag_to(_column(page, "negotiation"))

    expect(page.locator("#board-status")).to_have_text("Acme line 2 moved to Negotiation.")
    expect(_column(page, "negotiation").locator(".deal-card")).to_have_count(1)
    expect(page.locator("#board-stats-negotiation")).to_contain_text("1 deal")
    expect(page.locator("#board-stats-lead")).to_contain_text("0 deals")
    assert page.evaluate("window.__stillSamePage") is True  # moved in place, no reload
    assert Deal.objects.get(pk=deal.pk).stage == "negotiation"
    screenshot(page, "pipeline_after_drag")

    page.reload()
    expect(_column(page, "negotiation")).to_contain_text("Acme line 2")
    expect(_column(page, "lead").locator(".deal-card")).to_have_count(0)
    page.goto(f"/deals/{deal.pk}/")
    expect(page.locator(".timeline")).to_contain_text("Lead -> Negotiation")


def test_on_a_phone_the_cards_move_menu_moves_it(page: Any, rep: Any, account: Any, deal: Any) -> None:
    log_in(page, "rep")
    page.goto("/deals/pipeline/")
    card = _card(page, "Acme line 2")
    card.locator("summary", has_text="Move").click()
    card.locator("select[name=to]").select_option("negotiation")
    card.locator("button", has_text="Move").click()
    page.wait_for_selector(".message-success")
    assert "/deals/pipeline/" in page.url
    expect(_column(page, "negotiation")).to_contain_text("Acme line 2")
    screenshot(page, "pipeline_board")
    assert Activity.objects.filter(deal=deal, event_type="deal.moved").count() == 1


def test_dropping_a_card_on_won_opens_the_win_form(page: Any, rep: Any, account: Any, deal: Any) -> None:
    _drag_only_on_a_wide_screen(page)
    log_in(page, "rep")
    page.goto("/deals/pipeline/")

    # Dropped on "won", then cancelled: nothing is won, the card stays where it was.
    _card(page, "Acme line 2").drag_to(_column(page, "won"))
    dialog = page.locator("#board-win")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Mark Acme line 2 as won?")
    screenshot(page, "pipeline_win_form", full_page=False)
    dialog.locator("button", has_text="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(_column(page, "lead")).to_contain_text("Acme line 2")
    assert Deal.objects.get(pk=deal.pk).stage == "lead"

    # Dropped again and confirmed: the deal is won through the same form as on its page.
    _card(page, "Acme line 2").drag_to(_column(page, "won"))
    dialog.locator("button", has_text="Mark as won").click()
    page.wait_for_selector(".message-success")
    assert "won. Congratulations!" in page.locator(".message-success").inner_text()
    expect(_column(page, "won")).to_contain_text("Acme line 2")
    assert Deal.objects.get(pk=deal.pk).stage == "won"


def test_dropping_a_card_on_lost_asks_why(page: Any, rep: Any, account: Any, deal: Any) -> None:
    _drag_only_on_a_wide_screen(page)
    log_in(page, "rep")
    page.goto("/deals/pipeline/")
    _card(page, "Acme line 2").drag_to(_column(page, "lost"))
    dialog = page.locator("#board-lose")
    expect(dialog).to_be_visible()
    dialog.locator("textarea[name=reason]").fill("Budget moved to next year.")
    dialog.locator("button", has_text="Mark as lost").click()
    page.wait_for_selector(".message-success")
    expect(_column(page, "lost")).to_contain_text("Acme line 2")
    deal.refresh_from_db()
    assert deal.stage == "lost" and deal.lost_reason == "Budget moved to next year."


def test_a_refused_drop_puts_the_card_back_and_says_why(
    page: Any, rep: Any, presales: Any, account: Any, deal: Any,
) -> None:
    _drag_only_on_a_wide_screen(page)
    log_in(page, "rep")
    page.goto("/deals/pipeline/")
    # Someone else moves the deal after the board was drawn.
    services.deal_move(deal=deal, by=presales, to="qualified")
    page.allowed_console_errors = ("status of 409 (Conflict)",)  # type: ignore[attr-defined]

    _card(page, "Acme line 2").drag_to(_column(page, "negotiation"))

    expect(page.locator("#board-status")).to_contain_text("was moved to Qualified meanwhile")
    expect(page.locator("#board-status")).to_have_class("board-status board-status-error")
    expect(_column(page, "lead")).to_contain_text("Acme line 2")
    expect(_column(page, "negotiation").locator(".deal-card")).to_have_count(0)
    assert Deal.objects.get(pk=deal.pk).stage == "qualified"


def test_show_more_loads_the_next_cards_of_a_stage(page: Any, rep: Any, account: Any) -> None:
    for i in range(15):
        services.deal_create(account=account, by=rep, name=f"Fleet deal {i:02d}", value="1000")
    log_in(page, "rep")
    page.goto("/deals/pipeline/")
    lead = _column(page, "lead")
    expect(lead.locator(".deal-card")).to_have_count(12)
    screenshot(page, "pipeline_show_more")
    page.evaluate("window.__stillSamePage = true")
    lead.locator(".board-more", has_text="Show more (3 more)").click()
    expect(lead.locator(".deal-card")).to_have_count(15)
    expect(lead.locator(".board-more")).to_have_count(0)
    expect(lead).to_contain_text("Fleet deal 00")  # the oldest, last
    assert page.evaluate("window.__stillSamePage") is True


def test_the_deal_pages_stage_bar_moves_the_deal(page: Any, rep: Any, account: Any, deal: Any) -> None:
    log_in(page, "rep")
    page.goto(f"/deals/{deal.pk}/")
    bar = page.locator("nav.stagebar")
    expect(bar.locator('[aria-current="step"]')).to_contain_text("Lead")
    screenshot(page, "deal_stage_bar")
    bar.locator("button", has_text="Proposal").click()
    page.wait_for_selector(".message-success")
    expect(bar.locator('[aria-current="step"]')).to_contain_text("Proposal")
    assert Deal.objects.get(pk=deal.pk).stage == "proposal"
    # "Won" on the bar leads to the form that wins the deal.
    bar.locator("a", has_text="Won").click()
    assert page.url.endswith("#close-deal")
    expect(page.locator("#close-deal button", has_text="Mark as won")).to_be_visible()


def test_a_lost_deal_is_reopened_from_its_page(page: Any, rep: Any, account: Any, deal: Any) -> None:
    services.deal_lose(deal=deal, by=rep, reason="Went quiet.")
    log_in(page, "rep")
    page.goto(f"/deals/{deal.pk}/")
    page.select_option("#reopen-deal select[name=to]", "proposal")
    page.fill("#reopen-deal textarea[name=reason]", "They answered after all.")
    screenshot(page, "deal_reopen")
    page.locator("#reopen-deal button", has_text="Reopen").click()
    page.wait_for_selector(".message-success")
    expect(page.locator(".timeline")).to_contain_text("reopened by Rep")
    expect(page.locator("nav.stagebar [aria-current=step]")).to_contain_text("Proposal")
    assert Deal.objects.get(pk=deal.pk).stage == "proposal"
