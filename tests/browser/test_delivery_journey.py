"""The delivery journey through real pages: the delivery owner starts the first stage and asks
Alice to sign it off; Alice opens the link from the email, signs by typing her name; the owner
reloads the board and sees the stage signed off with her typed name. Then the owner raises a
problem on a promise and finds it in the problems list."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.core import mail
from playwright.sync_api import expect

from customer_links.models import CustomerLink
from delivery.models import Problem, SignOff, Stage
from handover.models import Promise
from tests.browser.conftest import assert_clean, customer_page, log_in, nav_to, screenshot


def test_the_customer_signs_off_from_the_email_and_the_owner_sees_it_on_the_board(
    page: Any, browser: Any, live_server: Any, project: Any, delivery: Any, account: Any, rep: Any,
) -> None:
    # locmem: the live server runs in a thread of this process, so both see the same outbox.
    mail.outbox.clear()
    first = project.stages.get(position=1)
    alice = account.contacts.get(first_name="Alice")

    # The delivery owner finds the project in "my deliveries" and opens its board.
    log_in(page, "delivery")
    nav_to(page, "Deliveries")
    expect(page.locator(f"#project-{project.pk}")).to_contain_text("0/5 stages done")
    screenshot(page, "delivery_my_deliveries")
    page.click(f"#project-{project.pk} >> text={project.deal.name}")
    expect(page.locator("h1")).to_contain_text(f"Delivery of {project.deal.name}")
    card = page.locator(f"#stage-{first.pk}")
    expect(card.locator(".dl-state")).to_have_text("Planned")

    # Start stage 1, then ask Alice (the decision maker) to sign it off.
    card.locator("button", has_text="Start").click()
    expect(page.locator(".message-success")).to_contain_text("Stage Kickoff started.")
    expect(card.locator(".dl-state")).to_have_text("In progress")
    card.locator("a", has_text="Request sign-off").click()
    expect(page.locator("select[name=contact] option")).to_have_count(2)  # "choose" and Alice; Bruno is technical
    page.select_option("select[name=contact]", str(alice.pk))
    page.fill("textarea[name=delivered]", "Kickoff workshop held on site; plan, contacts and milestones agreed.")
    screenshot(page, "delivery_signoff_request")
    page.click("text=Email the sign-off link")
    expect(page.locator(".message-success")).to_contain_text("requested from Alice Martin")
    expect(card.locator(".dl-state")).to_have_text("Awaiting sign-off")
    expect(card.locator(".dl-link")).to_contain_text("emailed to Alice Martin")
    page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar stays on top in the full-page shot
    screenshot(page, "delivery_board_awaiting")

    # The email went to Alice only, with a link carrying the token.
    [email] = [m for m in mail.outbox if m.to == ["alice@acme.example"]]
    link_url = next(word for word in email.body.split() if "/c/signoff/open/" in word)
    token = link_url.rstrip("/").rsplit("/", 1)[1]

    # Alice opens it in her own browser (no staff session): the token leaves the address bar.
    alice_page = customer_page(browser, live_server, page)
    alice_page.goto(urlsplit(link_url).path)
    expect(alice_page.locator("h1")).to_contain_text("Please review: Kickoff")
    assert token not in alice_page.url and "/c/signoff/open/" not in alice_page.url
    expect(alice_page.locator(".prose")).to_contain_text("Kickoff workshop held on site")
    screenshot(alice_page, "delivery_customer_signoff")
    assert not SignOff.objects.exists()  # opening the page changed nothing

    # Her typed name is her signature (case and accents aside); she reviews it before it counts.
    alice_page.fill("input[name=typed_name]", "alice MARTIN")
    alice_page.click("text=Sign off this stage")
    expect(alice_page.locator(".signoff-confirm")).to_contain_text("You are about to sign off Kickoff as alice MARTIN")
    assert not SignOff.objects.exists()  # the review step records nothing
    alice_page.click("text=Confirm: sign off")
    expect(alice_page.locator("h1")).to_contain_text("Kickoff is signed off")
    screenshot(alice_page, "delivery_customer_signed")
    assert_clean(alice_page)
    answer = SignOff.objects.get()
    assert (answer.typed_name, answer.decision, answer.contact_id) == ("alice MARTIN", "signed_off", alice.pk)
    assert CustomerLink.objects.get(purpose="signoff").used_at is not None

    # The owner reloads the board: signed off, with the name Alice typed.
    page.reload()
    expect(card.locator(".dl-state")).to_have_text("Signed off")
    expect(card.locator(".dl-signoffs")).to_contain_text("alice MARTIN")
    expect(card.locator(".dl-signoffs")).to_contain_text("Signed off")
    expect(page.locator(".dl-summary")).to_contain_text("1/5")
    assert Stage.objects.get(pk=first.pk).state == "signed_off"
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "delivery_board")

    # The owner says which promise stage 2 fulfils and moves its due date.
    promise = Promise.objects.get(deal=project.deal)
    second = project.stages.get(position=2)
    page.locator(f"#stage-{second.pk}").locator("a", has_text="Edit").click()
    page.fill("input[name=due_date]", "2030-03-01")
    page.check(f"input[name=promises][value='{promise.pk}']")
    screenshot(page, "delivery_stage_edit")
    page.click("text=Save the stage")
    expect(page.locator(".message-success")).to_contain_text("Stage Installation saved.")
    expect(page.locator(f"#stage-{second.pk}")).to_contain_text("Two robot arms installed by 1 March")
    expect(page.locator(f"#stage-{second.pk}")).to_contain_text("1 Mar 2030")

    # A problem on the deal's promise, raised through the form, lands in the problems list.
    page.click("text=Raise a problem")
    page.fill("input[name=title]", "Second robot arm arrived damaged")
    page.fill("textarea[name=description]", "The gripper housing is cracked; the customer photographed it on arrival.")
    page.select_option("select[name=category]", "delivery_defect")
    page.select_option("select[name=severity]", "high")
    page.check(f"input[name=promises][value='{promise.pk}']")
    screenshot(page, "delivery_problem_form")
    page.click("text=Raise the problem")
    expect(page.locator(".message-success")).to_contain_text("Its promise is marked broken.")
    expect(page.locator("#attribution")).to_contain_text("Rep")
    screenshot(page, "delivery_problem_detail")
    problem = Problem.objects.get()
    assert problem.project_id == project.pk and Promise.objects.get(pk=promise.pk).state == "broken"

    nav_to(page, "Problems")
    expect(page.locator(f"#problem-{problem.pk}")).to_contain_text("Second robot arm arrived damaged")
    page.select_option("select[name=severity]", "high")
    page.click("button:has-text('Filter')")
    assert "severity=high" in page.url
    expect(page.locator(f"#problem-{problem.pk}")).to_be_visible()
    screenshot(page, "delivery_problem_list")

    page.goto(f"/accounts/{account.pk}/")
    section = page.locator(".account-section", has=page.locator("h2", has_text="Delivery"))
    expect(section).to_contain_text("Second robot arm arrived damaged")
    expect(section).to_contain_text("1/5")
    screenshot(page, "delivery_account_section")
    assert page.console_errors == []  # type: ignore[attr-defined]
