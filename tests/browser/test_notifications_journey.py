"""The bell through real pages: a rep submits a handover for review, the sales manager's bell
shows the review request (the same notice the email brought), opening it lands on the handover
and the count drops; the bell fits the header at 1280 and at 390 px."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from flows import actions as flows
from handover import services as handover_services
from handover.models import Handover
from outbox.models import Notice, Notification
from tests.browser.conftest import log_in, screenshot


def test_the_sales_managers_bell_shows_the_review_request_the_email_also_brought(
    page: Any, rep: Any, salesmgr: Any, deal: Any,
) -> None:
    mail.outbox.clear()  # locmem: the live server runs in a thread of this process
    flows.deal_win(deal=deal, by=rep)
    handover = handover_services.handover_update(
        handover=Handover.objects.get(deal=deal), by=rep, customer_expectations="Line 2 running before the peak.",
        meeting_at=timezone.now() - timedelta(hours=2), meeting_held=True, meeting_minutes="Walked through it.",
    )

    log_in(page, "rep")
    page.goto(f"/handovers/{handover.pk}/")
    page.click("text=Submit the handover")
    expect(page.locator(".message-success")).to_contain_text("submitted")
    expect(page.locator(".bell .bell-count")).to_have_count(0)  # the rep is not told of their own step

    page.context.clear_cookies()
    log_in(page, "salesmgr")
    bell = page.locator("details.bell")
    expect(bell.locator(".bell-count")).to_have_text("1")
    box = bell.locator("summary").bounding_box()
    assert box is not None and box["x"] + box["width"] <= page.width  # type: ignore[attr-defined]
    screenshot(page, "bell_header", full_page=False)
    bell.locator("summary").click()
    entry = bell.locator(".notification.is-unread")
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text(f"Review request: {deal.account.name}")
    expect(entry).to_contain_text("Handover review requests")
    screenshot(page, "bell_panel", full_page=False)

    entry.locator("button").click()
    page.wait_for_url(f"**/handovers/{handover.pk}/")
    expect(page.locator(".bell .bell-count")).to_have_count(0)
    notice = Notice.objects.get(kind="handover.review_request")
    assert Notification.objects.get(notice=notice, user=salesmgr).read_at is not None
    # The same outbox row emailed the sales manager.
    assert notice.state == Notice.State.SENT and notice.recipients == [salesmgr.email]
    [email] = [m for m in mail.outbox if m.to == [salesmgr.email]]
    assert email.subject == f"Review request: {deal.account.name} — {deal.name}"
    assert f"/handovers/{handover.pk}/" in email.body

    page.goto("/notifications/")
    expect(page.locator(".notification")).to_have_count(1)
    screenshot(page, "notifications_page")
    page.goto("/notifications/email/")
    screenshot(page, "notifications_email_choices")
