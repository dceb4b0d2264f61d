"""The handover journey through real pages: the rep records promises and submits, the sales
manager reviews and approves, the delivery manager checks feasibility and accepts, and the
customer is introduced to their delivery owner by email."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from handover.models import Handover, Promise
from tests.browser.conftest import log_in, screenshot

PROMISES = [
    ("deliverable", "Two robot arms installed on line 2 by 1 March", "proposal"),
    ("support", "A technician on site during the first production week", "call"),
]


def switch_to(page: Any, username: str) -> None:
    page.context.clear_cookies()
    log_in(page, username)


def review_every_promise(page: Any, deal: Any, button: str, verdict: str, shows: str, done: str = "") -> None:
    """Reviews each promise in place; with `done` ("reviewed", "checked") the card's progress
    line must follow each review without a reload: "1 of 2 promises reviewed"."""
    promises = list(Promise.objects.filter(deal=deal))
    handover = Handover.objects.get(deal=deal)
    progress = page.locator(f"#review-progress-{handover.pk}")
    if done:
        expect(progress).to_have_text(f"0 of {len(promises)} promises {done}")
    for i, promise in enumerate(promises, start=1):
        row = page.locator(f"#promise-{promise.pk}")
        row.locator("summary", has_text=button).click()
        row.locator(f"input[name=verdict][value={verdict}]").check()
        row.locator("button", has_text="Save review").click()
        expect(page.locator(f"#promise-{promise.pk} .promise-verdicts")).to_contain_text(shows)
        if done:
            expect(progress).to_have_text(f"{i} of {len(promises)} promises {done}")


def test_a_handover_goes_from_the_rep_through_sales_to_delivery_and_the_customer_is_emailed(
    page: Any, rep: Any, salesmgr: Any, deliverymgr: Any, delivery: Any, account: Any, deal: Any,
) -> None:
    # locmem: the live server runs in a thread of this process, so both see the same outbox.
    mail.outbox.clear()

    # The rep records what the customer was promised, in place.
    log_in(page, "rep")
    page.goto(f"/deals/{deal.pk}/promises/")
    page.evaluate("window.__stillSamePage = true")
    alice = account.contacts.get(first_name="Alice")
    for kind, text, source in PROMISES:
        page.select_option("#record-promise select[name=kind]", kind)
        page.fill("#record-promise textarea[name=description]", text)
        page.select_option("#record-promise select[name=source]", source)
        page.select_option("#record-promise select[name=made_to]", str(alice.pk))
        page.click("text=Record the promise")
        expect(page.locator("#promise-list")).to_contain_text(text)
    # A promise without a description is refused next to the field, without a reload.
    page.click("text=Record the promise")
    expect(page.locator("#record-promise .error")).to_contain_text("Write what the customer was promised.")
    assert page.evaluate("window.__stillSamePage") is True
    assert Promise.objects.filter(deal=deal, made_by=rep).count() == 2
    screenshot(page, "handover_promise_ledger")

    # The deal is won: its handover draft exists; the rep completes and submits it.
    page.goto(f"/deals/{deal.pk}/")
    page.click("text=Mark as won")
    page.goto(f"/deals/{deal.pk}/promises/")
    page.click("text=Open the handover")
    page.fill("textarea[name=customer_expectations]", "Line 2 producing before the spring peak, with no downtime on line 1.")
    page.fill("textarea[name=risks]", "Floor space is tight; the customer's electrician is only on site on Tuesdays.")
    meeting = timezone.localtime(timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    page.fill("input[name=meeting_at]", meeting)
    page.select_option("select[name=proposed_delivery_owner]", str(delivery.pk))
    page.check(f"input[name=vendor_attendees][value='{rep.pk}']")
    page.check(f"input[name=customer_attendees][value='{alice.pk}']")
    page.fill("textarea[name=meeting_minutes]", "Walked Alice and Bruno through the plan.")
    page.check("input[name=meeting_held]")
    page.click("text=Save the handover")
    expect(page.locator(".message-success")).to_contain_text("Handover saved.")
    screenshot(page, "handover_page_draft")
    page.click("text=Submit the handover")
    expect(page.locator(".message-success")).to_contain_text("submitted")
    handover = Handover.objects.get(deal=deal)
    assert handover.state == "submitted"

    # The sales manager reviews each promise in the queue and approves.
    switch_to(page, "salesmgr")
    page.goto("/handovers/review/")
    review_every_promise(page, deal, "Sales review", "ok", "Sales: OK", done="reviewed")
    screenshot(page, "handover_review_queue")
    page.locator(f"#handover-{handover.pk}").locator("button", has_text="Approve").click()
    expect(page.locator(".message-success")).to_contain_text("approved")
    assert Handover.objects.get(pk=handover.pk).state == "sales_approved"

    # The delivery manager checks feasibility in the inbox and accepts, naming the owner.
    switch_to(page, "deliverymgr")
    page.goto("/handovers/inbox/")
    expect(page.locator(".countdown").first).to_contain_text("due in")
    review_every_promise(page, deal, "Feasibility review", "feasible", "Delivery: Feasible", done="checked")
    screenshot(page, "handover_inbox")
    item = page.locator(f"#handover-{handover.pk}")
    item.locator("select[name=delivery_owner]").select_option(str(delivery.pk))
    item.locator("button", has_text="Accept").click()
    expect(page.locator(".message-success")).to_contain_text("Handover accepted")
    screenshot(page, "handover_page_accepted")

    handover.refresh_from_db()
    assert handover.state == "accepted" and handover.delivery_owner == delivery
    to_alice = [m for m in mail.outbox if m.to == ["alice@acme.example"]]
    assert len(to_alice) == 1
    assert "Delivery" in to_alice[0].subject and "call me" in to_alice[0].body

    page.goto(f"/handovers/{handover.pk}/summary/")
    expect(page.locator("h1")).to_contain_text(deal.name)
    screenshot(page, "handover_summary")
    page.emulate_media(media="print")
    assert page.locator(".topbar").is_hidden()
    screenshot(page, "handover_summary_print")
    assert page.console_errors == []  # type: ignore[attr-defined]
