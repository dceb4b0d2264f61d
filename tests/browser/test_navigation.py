"""Every role, every page of its navigation, at 1280 px and at 390 px: the links sit on one row
on a laptop and fold into a menu on a phone, the sticky header never covers a page's heading,
and (the `page` fixture checks it) nothing scrolls sideways and the console stays clean."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from crm import roles
from crm import services as crm
from flows import actions as flows
from handover import services as handover_services
from handover.models import Handover
from tests.browser.conftest import log_in, screenshot
from tests.scenarios import accept_deal, approve_deal, make_user

PERSONAS = {
    "rep": (roles.SALES_REP,),
    "presales": (roles.PRESALES,),
    "salesmgr": (roles.SALES_MANAGER,),
    "delivery": (roles.DELIVERY_TEAM,),
    "deliverymgr": (roles.DELIVERY_MANAGER,),
    "administrator": (roles.ADMINISTRATOR,),
    # The longest navigation there is: both managers' links, the administrator's and Django's admin.
    "everyone": (roles.SALES_MANAGER, roles.DELIVERY_MANAGER, roles.ADMINISTRATOR),
}
HEADER_MAX_HEIGHT = 64  # one row of links; two rows made it about 100 px

# A pasted link or file name with no place to break: text must wrap, never widen the page.
LONG_WORD = "https://wiki.northwind.example/" + "WarehouseAutomation" * 8 + ".pdf"


ITEMS = [{"kind": "product", "name": "Pick-to-light controller", "quantity": 14, "unit_price": "2500"}]


@pytest.fixture
def world(rep: Any, rep2: Any, presales: Any, salesmgr: Any, deliverymgr: Any, delivery: Any,
          admin_user: Any, account: Any, deal: Any) -> dict[str, Any]:
    """Something on every page: a delivery under way, a handover in the inbox, one in the
    review queue, and an account whose name is long enough to push a careless layout wider."""
    make_user("everyone", *PERSONAS["everyone"], is_staff=True, is_superuser=True)
    accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)
    long = crm.account_create(
        by=rep, name="Northwind Analytics International Logistics Holdings", city="Saint-Quentin-en-Yvelines",
        industry="Logistics", notes=f"Their wiki: {LONG_WORD}",
    )
    crm.contact_create(account=long, by=rep, first_name="Maximilian-Alexander", last_name="Wolkenstein-Trostburg",
                       email="maximilian-alexander.wolkenstein-trostburg@northwind-analytics.example")
    approved = crm.deal_create(account=long, by=rep, name="Northwind sorter", value="35000", line_items=ITEMS)
    approve_deal(approved, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr)
    submitted = crm.deal_create(account=long, by=rep, name="Northwind warehouse automation", value="35000",
                                line_items=ITEMS)
    handover_services.promise_record(
        deal=submitted, by=rep, kind="deliverable", description=f"Pick-to-light on all 14 aisles, as in {LONG_WORD}",
        source="proposal", made_to=long.contacts.first(),
    )
    flows.deal_win(deal=submitted, by=rep)
    handover = Handover.objects.get(deal=submitted)
    handover_services.handover_update(
        handover=handover, by=rep, customer_expectations=f"Live before the peak, as {LONG_WORD} says.",
        meeting_at=timezone.now() - timedelta(hours=2), meeting_held=True, meeting_minutes="Walked through it.",
    )
    handover_services.handover_submit(handover=handover, by=rep)
    return {"account": long}


def nav_links(page: Any) -> list[tuple[str, str]]:
    return page.eval_on_selector_all(
        "nav.mainnav a", "els => els.map(e => [e.textContent.trim().split(/\\s+/)[0], e.getAttribute('href')])"
    )


def assert_the_header_fits(page: Any, url: str) -> None:
    header = page.locator("header.topbar").bounding_box()
    assert header["height"] <= HEADER_MAX_HEIGHT, f"header {header['height']}px tall at {url}"
    heading = page.locator("main h1").first
    if heading.count():
        top = heading.bounding_box()["y"]
        assert top >= header["y"] + header["height"], f"the header covers the h1 at {url}"


@pytest.mark.parametrize("username", list(PERSONAS))
def test_every_role_finds_its_pages_in_one_row_or_one_menu(page: Any, world: Any, username: str) -> None:
    log_in(page, username)
    links = nav_links(page)
    assert len(links) >= 4, links  # Accounts, Pipeline, Problems, My week at the least
    for _label, href in links:
        if href.startswith("/admin/"):
            # Django's own admin: not our layout (no header to measure), but held to the same
            # rules: no console error (it declares our empty icon, so no /favicon.ico 404) and
            # no sideways scrolling.
            page.goto(href)
            continue
        page.goto(href)
        url = page.url
        assert_the_header_fits(page, url)
        items = page.locator("nav.mainnav a")
        toggle = page.locator("label.nav-toggle-label")
        if page.width >= 1000:
            # One row: every link at the same height, no menu button.
            tops = page.eval_on_selector_all("nav.mainnav a", "els => els.map(e => e.offsetTop)")
            assert len(set(tops)) == 1, f"the navigation wraps onto {len(set(tops))} rows at {url}"
            # and no link is scrolled out of sight (the header search box leaves them room)
            hidden = page.eval_on_selector("nav.mainnav", "n => n.scrollWidth - n.clientWidth")
            assert hidden <= 1, f"{hidden}px of the navigation are out of sight at {url}"
            assert not toggle.is_visible()
        else:
            # A menu: the links are hidden until it opens, then all of them show.
            expect(toggle).to_be_visible()
            expect(items.first).to_be_hidden()
            toggle.click()
            for i in range(items.count()):
                expect(items.nth(i)).to_be_visible()
            if href == links[0][1]:
                screenshot(page, f"nav_{username}_menu_open", full_page=False)
            assert page.evaluate("document.documentElement.scrollWidth") <= page.width, f"the open menu overflows at {url}"
            toggle.click()
            expect(items.first).to_be_hidden()
    if username in ("salesmgr", "deliverymgr", "everyone"):
        for path in ("/accounts/", "/deals/pipeline/", "/handovers/review/", "/handovers/inbox/", "/deliveries/", "/my-week/"):
            if any(href == path for _, href in links):
                page.goto(path)
                screenshot(page, f"nav_{username}_{path.strip('/').replace('/', '_')}")


def test_the_managers_see_how_many_handovers_wait_for_them(page: Any, world: Any) -> None:
    log_in(page, "everyone")
    if page.width < 1000:
        page.click("label.nav-toggle-label")
    nav = page.locator("nav.mainnav")
    expect(nav.locator("a", has_text="Review queue")).to_contain_text("1")
    expect(nav.locator("a", has_text="Acceptance inbox")).to_contain_text("1")
    page.goto("/handovers/review/")
    expect(page.locator("#queue-count")).to_contain_text("1 submitted handover, oldest first.")
    page.goto("/handovers/inbox/")
    expect(page.locator("#queue-count")).to_contain_text("1 handover approved by sales, most urgent first.")


def test_the_pages_behind_the_navigation_fit_too(page: Any, world: Any, rep: Any, deal: Any) -> None:
    """The detail and form pages, on the account with the longest name: no sideways scroll and
    no console error at either width (the `page` fixture), the header clear of the heading."""
    from crm.models import Contact
    from delivery.models import Project

    long = world["account"]
    submitted = Handover.objects.get(deal__name="Northwind warehouse automation")
    project = Project.objects.get(deal=deal)
    stage = project.stages.order_by("position").first()
    contact = Contact.objects.filter(account=long).first()
    as_rep = [
        f"/accounts/{long.pk}/", f"/accounts/{long.pk}/edit/", f"/accounts/{long.pk}/contacts/new/",
        f"/accounts/{long.pk}/deals/new/", f"/contacts/{contact.pk}/edit/", f"/deals/{submitted.deal_id}/",
        f"/deals/{submitted.deal_id}/edit/", f"/deals/{submitted.deal_id}/promises/", f"/handovers/{submitted.pk}/",
        f"/handovers/{submitted.pk}/summary/", "/handovers/", "/profile/", "/password_change/", "/calendar/",
        f"/accounts/{long.pk}/problems/new/", f"/insights/people/{rep.pk}/", "/accounts/new/",
    ]
    as_manager = [
        f"/accounts/{long.pk}/reassign/", f"/accounts/{long.pk}/team/add/", f"/deliveries/{project.pk}/",
        f"/stages/{stage.pk}/edit/", f"/users/{rep.pk}/deactivate/", "/insights/risk/", "/insights/reassignment/",
        "/insights/delivery/", f"/handovers/{submitted.pk}/",
    ]
    for username, paths in (("rep", as_rep), ("everyone", as_manager)):
        page.context.clear_cookies()
        log_in(page, username)
        for path in paths:
            response = page.goto(path)
            assert response is not None and response.status == 200, f"{path} answered {response and response.status}"
            assert_the_header_fits(page, page.url)
    screenshot(page, "nav_handover_detail_long_name")
