"""A sales manager handles a departing rep from the reassignment dashboard (orphans drop to zero),
then reads the performance dashboard and a rep's page; the figures shown are checked against the
data. Every dashboard is screenshotted into var/screenshots/ for a person to look at."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from crm import roles
from crm import services as crm
from crm.models import Account
from delivery import services as delivery_services
from handover import services as handover_services
from tests.browser.conftest import log_in, nav_to, screenshot
from tests.scenarios import accept_deal, make_user


def row_of(page: Any, table: str, name: str) -> Any:
    return page.locator(f"#table-{table} tbody tr", has=page.locator("td:first-child", has_text=name)).first


def cells(row: Any) -> list[str]:
    return [text.replace("\xa0", " ").strip() for text in row.locator("td").all_inner_texts()]


def test_a_manager_hands_over_a_departed_reps_book_then_reads_the_scorecards(
    page: Any, rep: Any, rep2: Any, presales: Any, salesmgr: Any, deliverymgr: Any, delivery: Any, account: Any,
    deal: Any, other_account: Any,
) -> None:
    # Given: rep sold Acme's deal, with a promise of his and one from pre-sales; delivery accepted
    # it and traced a problem to the pre-sales promise. A rep left with two accounts still his.
    handover_services.promise_record(
        deal=deal, by=rep, kind="deliverable", description="Two robot arms installed by 1 March", source="proposal",
    )
    presales_promise = handover_services.promise_record(
        deal=deal, by=presales, kind="integration", description="Talks to the line's PLC", source="demo",
    )
    accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)
    delivery_services.problem_raise(account=account, by=delivery, title="PLC link missing", category="oversold",
                                    severity="high", promises=[presales_promise])
    leaver = make_user("leaver", roles.SALES_REP, last_name="Gone")
    for name in ("Umbrella Corp", "Wayne Enterprises"):
        crm.account_create(by=leaver, name=name)
    leaver.is_active = False  # switched off in the admin; the book was not handed over
    leaver.save(update_fields=["is_active"])

    # The manager finds the orphans on the reassignment dashboard.
    log_in(page, "salesmgr")
    nav_to(page, "Insights")
    expect(page.locator("h1")).to_have_text("Performance")
    page.click(".insights-tabs >> text=Reassignment")
    expect(page.locator("#orphan-count")).to_have_text("2")
    expect(page.locator("#table-orphans")).to_contain_text("Umbrella Corp")
    expect(page.locator("#table-orphans")).to_contain_text("Wayne Enterprises")
    screenshot(page, "insights_reassignment_before")

    # Bulk reassignment from the dashboard: the crm page opens with the departed rep chosen.
    page.click(f"[data-reassign='{leaver.pk}']")
    expect(page.locator("h1")).to_have_text("Reassign a book")
    assert page.input_value("select[name=from_user]") == str(leaver.pk)
    page.select_option("select[name=to_user]", str(rep2.pk))
    page.click("button:has-text('Preview')")
    expect(page.locator("h1")).to_contain_text("Leaver Gone → Rep2")
    page.click("button:has-text('Reassign 2 accounts')")
    expect(page.locator(".message-success")).to_contain_text("Moved 2 accounts")
    assert not Account.objects.filter(owner__is_active=False).exists()

    page.goto("/insights/reassignment/")
    expect(page.locator("#orphan-count")).to_have_text("0")
    expect(page.locator("#table-orphans")).to_contain_text("None: every account has an active owner.")
    changes = page.locator("#table-changes")
    expect(changes).to_contain_text("Departure")
    assert changes.locator("tbody tr", has_text="Departure").count() == 2
    screenshot(page, "insights_reassignment")

    # The performance dashboard: the deal is the rep's, the problem the pre-sales consultant's.
    page.click(".insights-tabs >> text=Performance")
    rep_row = cells(row_of(page, "people", "Rep"))
    assert rep_row[:4] == ["Rep\nSales rep", "1", "48,000 EUR", "1"]
    presales_row = cells(row_of(page, "people", "Presales"))
    assert presales_row[:4] == ["Presales\nPre-sales", "0", "—", "1"]
    headers = page.locator("#table-people thead th").all_text_contents()
    assert presales_row[headers.index("Problems traced")] == "1"
    assert presales_row[headers.index("Broken")] == "1" and presales_row[headers.index("Kept rate")] == "0%"
    total = cells(page.locator("#table-people tfoot tr"))
    assert total[:4] == ["Team total", "1", "48,000 EUR", "2"]
    # Hovering a bar names its value (an SVG <title>).
    assert page.locator("#won-title").count() == 1
    assert "Rep: 1" in page.locator("svg.chart .chart-bar title").all_text_contents()
    screenshot(page, "insights_performance")

    # The rep's own page: their deal and promise, the trend.
    row_of(page, "people", "Rep").locator("a").first.click()
    expect(page.locator("h1")).to_have_text("Rep")
    expect(page.locator("#stat-deals-won")).to_have_text("1")
    expect(page.locator("#stat-promises-made")).to_have_text("1")
    expect(page.locator("#table-deals")).to_contain_text("Acme line 2")
    expect(page.locator("#table-problems")).to_contain_text("No problem traced to their promises")
    screenshot(page, "insights_person")

    # The other dashboards render too, and nothing broke the CSP along the way.
    page.goto("/insights/risk/")
    expect(page.locator("#table-risk")).to_contain_text("Acme Robotics")
    screenshot(page, "insights_risk")
    page.goto("/insights/delivery/")
    expect(page.locator("#table-problems")).to_contain_text("Oversold")
    screenshot(page, "insights_delivery")
    assert page.console_errors == []


@pytest.mark.usefixtures("made_before_the_fixed_dates")  # the world is built on fixed dates (tests.conftest)
def test_a_manager_reads_a_full_quarter(
    page: Any, rep: Any, rep2: Any, presales: Any, salesmgr: Any, deliverymgr: Any, delivery: Any, account: Any,
    deal: Any, other_account: Any, other_deal: Any,
) -> None:
    """The hand-built quarter of tests/insights_world.py, read in the browser on 1 March 2027 (the
    clock travels for the live server too): the figures tests/test_insights_performance.py works out
    by hand are the ones on the pages."""
    import time_machine

    from tests.insights_world import NOW, build_world

    world = build_world(rep=rep, rep2=rep2, presales=presales, salesmgr=salesmgr, deliverymgr=deliverymgr,
                        delivery=delivery, account=account, deal=deal, other_account=other_account,
                        other_deal=other_deal)
    with time_machine.travel(NOW, tick=True):
        log_in(page, "salesmgr")
        page.goto("/insights/performance/?start=2027-01-01&end=2027-03-31")
        headers = page.locator("#table-people thead th").all_text_contents()
        rep_row = cells(row_of(page, "people", "Rep"))
        shown = dict(zip(headers, rep_row, strict=True))
        assert (shown["Deals won"], shown["Value won"], shown["Kept rate"]) == ("2", "48,000 EUR · 5,000 USD", "50%")
        assert (shown["Median days won to accepted"], shown["Median day-30 satisfaction"]) == ("3.5", "3/5")
        presales_row = dict(zip(headers, cells(row_of(page, "people", "Presales")), strict=True))
        assert (presales_row["Problems traced"], presales_row["Problems per won deal"]) == ("2", "2")
        screenshot(page, "insights_quarter_performance")
        page.click(".insights-tabs >> text=Early-life risk")
        first = cells(page.locator("#table-risk tbody tr").first)
        assert first[1:2] == ["Acme Robotics"] and first[5] == "15"
        screenshot(page, "insights_quarter_risk")
        page.click(".insights-tabs >> text=Reassignment")
        expect(page.locator("#orphan-count")).to_have_text("1")
        screenshot(page, "insights_quarter_reassignment")
        page.click(".insights-tabs >> text=Delivery")
        expect(page.locator("#table-waiting")).to_contain_text("Globex renewal")
        screenshot(page, "insights_quarter_delivery")
        page.goto(f"/insights/people/{world.presales.pk}/?start=2027-01-01&end=2027-03-31")
        expect(page.locator("#table-problems")).to_contain_text("PLC link missing")
        screenshot(page, "insights_quarter_person")
        assert page.console_errors == []
