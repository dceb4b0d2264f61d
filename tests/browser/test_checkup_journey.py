"""The check-up journey through real pages: the delivery owner records a check-up's outcome in
place from "My week"; the customer answers the day-7 survey from the emailed link, unhappily; the
check-up problem appears for the delivery owner; a manager looks at the team calendar."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from delivery.models import Problem
from outbox import notices
from tests.browser.conftest import SCREENSHOTS, assert_clean, customer_page, log_in, nav_to
from tests.scenarios import accept_deal
from touchpoints.agendas import create_default_agendas
from touchpoints.models import AgendaStep, AgendaTemplate, SurveyResponse, Touchpoint

SURVEY_LINK = re.compile(r"https?://[^/\s]+(/c/survey/open/[^/\s]+/)")
REFUSED_FORM = "the server responded with a status of 400"  # Chromium logs the refused save


def screenshot(page: Any, name: str) -> None:
    """As tests.browser.conftest.screenshot, but leaving the caret alone: hiding it leaves an
    empty style attribute on every input, which htmx then copies while settling a swapped row
    (and the CSP rightly refuses)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{page.viewport_size['width']}.png"), full_page=True, caret="initial")


def unexpected(errors: list[str]) -> list[str]:
    return [e for e in errors if REFUSED_FORM not in e]


def test_the_delivery_owner_completes_a_check_up_and_the_customer_answers_the_survey(
    page: Any, browser: Any, live_server: Any, rep: Any, salesmgr: Any, deliverymgr: Any, delivery: Any,
    account: Any, deal: Any,
) -> None:
    # Given rep's deal accepted with `delivery` as its owner: the 30-day agenda is scheduled.
    create_default_agendas(AgendaTemplate, AgendaStep)  # transactional tests flush the migration's rows
    accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)
    confirmation = Touchpoint.objects.get(kind="delivery_confirmation")
    Touchpoint.objects.filter(pk=confirmation.pk).update(due_at=timezone.now() - timedelta(minutes=30))
    mail.outbox.clear()  # locmem: the live server runs in a thread of this process

    # The delivery owner opens "My week": the overdue confirmation call comes first, highlighted.
    log_in(page, "delivery")
    nav_to(page, "My week")
    expect(page.locator("h1")).to_have_text("My week")
    row = page.locator(f"#touchpoint-{confirmation.pk}")
    expect(row).to_have_class(re.compile(r"\bis-overdue\b"))
    expect(page.locator(".tp-now .tp-row").first).to_have_id(f"touchpoint-{confirmation.pk}")
    expect(row).to_contain_text("alice@acme.example")
    page.evaluate("window.__stillSamePage = true")
    screenshot(page, "checkup_my_week")

    # A save without a score is refused next to the field, in the row, without a reload.
    row.locator("summary", has_text="Record outcome").click()
    row.locator("input[name=as_expected][value=yes]").check()
    row.locator("button", has_text="Save the outcome").click()
    expect(row.locator(".field-radios.has-error .error")).to_contain_text("Choose a satisfaction score from 1 to 5.")
    assert Touchpoint.objects.get(pk=confirmation.pk).state == "scheduled"

    # Then the outcome, in place: the row turns to its done state.
    row.locator("input[name=satisfaction][value='4']").check()
    row.locator("input[name=as_expected][value=yes]").check()
    row.locator("textarea[name=notes]").fill("Kickoff confirmed for Monday; they want the training plan early.")
    screenshot(page, "checkup_outcome_form")
    row.locator("button", has_text="Save the outcome").click()
    expect(row).to_have_class(re.compile(r"\btp-done\b"))
    expect(row).to_contain_text("Satisfaction 4/5")
    expect(row).to_contain_text("Kickoff confirmed for Monday")
    assert page.evaluate("window.__stillSamePage") is True
    done = Touchpoint.objects.get(pk=confirmation.pk)
    assert (done.state, done.satisfaction, done.as_expected, done.completed_by) == ("done", 4, True, delivery)
    screenshot(page, "checkup_my_week_done")

    # A week later the dispatcher emails Alice the day-7 survey.
    day7 = Touchpoint.objects.get(kind="checkup_call")
    notices.dispatch(now=day7.due_at + timedelta(minutes=1))
    surveys = [m for m in mail.outbox if m.to == ["alice@acme.example"] and m.subject.startswith("How is it going")]
    assert len(surveys) == 1
    found = SURVEY_LINK.search(str(surveys[0].body))
    assert found is not None
    path = found.group(1)
    token = path.rstrip("/").rsplit("/", 1)[1]

    # The customer opens it in their own browser: the token leaves the address bar at once.
    customer = customer_page(browser, live_server, page)
    customer.goto(path)
    expect(customer.locator("h1")).to_contain_text("How is it going, Alice?")
    assert token not in customer.url and f"/c/survey/{day7.pk}/" in customer.url
    screenshot(customer, "checkup_survey")
    customer.locator("button", has_text="Send").click()  # nothing chosen: refused, field by field
    expect(customer.locator(".form-errors")).to_contain_text("nothing was saved")
    assert not SurveyResponse.objects.exists()
    screenshot(customer, "checkup_survey_refused")
    customer.locator("input[name=satisfaction][value='1']").check()
    customer.locator("input[name=as_expected][value=no]").check()
    customer.fill("textarea[name=comment]", "The integration with our ERP still does not work, as we were promised.")
    customer.locator("button", has_text="Send").click()
    expect(customer.locator("h1")).to_have_text("Thank you")
    expect(customer.locator(".card")).to_contain_text("Someone will get in touch")
    screenshot(customer, "checkup_survey_thanks")
    assert_clean(customer)

    answer = SurveyResponse.objects.get(touchpoint=day7)
    assert (answer.satisfaction, answer.as_expected) == (1, False) and answer.problem is not None
    alerts = [m for m in mail.outbox if m.subject.startswith("Unhappy customer")]
    assert len(alerts) == 1 and delivery.email in alerts[0].to

    # The delivery owner sees the check-up problem in the problems list and on the account page.
    page.goto("/problems/")
    expect(page.locator("main")).to_contain_text("Check-up survey: satisfaction 1/5, not as expected")
    assert answer.problem.source == Problem.Source.CHECKUP
    page.goto(f"/accounts/{account.pk}/")
    agenda = page.locator(".account-section", has=page.locator("h2", has_text="Check-ups"))
    expect(agenda.locator(f"#agenda-{day7.pk}")).to_contain_text("Customer: 1/5, not as expected")
    expect(agenda.locator(f"#agenda-{done.pk}")).to_contain_text("4/5")
    expect(page.locator("main")).to_contain_text("Check-up survey: satisfaction 1/5")
    screenshot(page, "checkup_account_agenda")
    agenda.screenshot(path=str(SCREENSHOTS / "checkup_account_agenda_section.png"), caret="initial")
    assert unexpected(page.console_errors) == []  # type: ignore[attr-defined]

    # A delivery manager sees the week of the team, the done check-up in it.
    page.context.clear_cookies()
    log_in(page, "deliverymgr")
    nav_to(page, "Team calendar")
    expect(page.locator("h1")).to_have_text("Team calendar")
    page.goto(f"/team-calendar/?week={timezone.localdate(done.due_at).isoformat()}&team=delivery")
    expect(page.locator(".tp-calendar .tp-chip-done").first).to_contain_text("4/5")
    screenshot(page, "checkup_team_calendar")
    assert unexpected(page.console_errors) == []  # type: ignore[attr-defined]
