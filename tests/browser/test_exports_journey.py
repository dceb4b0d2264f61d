"""Exporting a list as a person does: filter the accounts list, click "Export CSV", open the
downloaded file and find the rows the page showed; and the lists with their new link, at 1280 px
and at 390 px (the `page` fixture checks for sideways scrolling and console errors)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from crm import services as crm
from tests.browser.conftest import log_in, screenshot
from tests.scenarios import accept_deal, raise_problem


def downloaded_rows(page: Any, link_text: str) -> tuple[str, list[dict[str, str]]]:
    with page.expect_download() as info:
        page.get_by_role("link", name=link_text).click()
    download = info.value
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    return download.suggested_filename, list(csv.DictReader(io.StringIO(text)))


def test_a_rep_exports_the_filtered_accounts_and_reads_the_rows_the_page_shows(page, rep, account, other_account):
    for name, city in (("Acme Logistics", "Lyon"), ("Acme Foods", "Nantes"), ("Borealis Energy", "Oslo")):
        crm.account_create(by=rep, name=name, city=city)
    log_in(page, "rep")
    page.goto("/accounts/")
    page.fill("form.filters input[name=q]", "acme")  # the list's own field, not the header's search box
    page.select_option("select[name=threads]", "single")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_load_state("load")
    shown = page.locator("td[data-label=Account] a").all_inner_texts()
    assert sorted(shown) == ["Acme Foods", "Acme Logistics"]  # Acme Robotics has two threads
    screenshot(page, "accounts-list-filtered")

    name, rows = downloaded_rows(page, "Export CSV")

    assert name.startswith("keepwarm-accounts-") and name.endswith(".csv")
    assert [r["Account"] for r in rows] == shown
    assert {r["Single-threaded"] for r in rows} == {"yes"} and {r["Stage"] for r in rows} == {"Prospect"}
    assert "Globex" not in {r["Account"] for r in rows}  # rep2's account, never in rep's file
    assert "/accounts/?q=acme" in page.url  # a download leaves the list where it was


def test_the_lists_show_their_export_link_at_every_width(page, rep, deal, salesmgr, deliverymgr, delivery):
    project = accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)
    raise_problem(project.account, rep, title="Screens flicker in hall 2")
    log_in(page, "deliverymgr")
    for path, name in (("/accounts/", "accounts-list"), ("/problems/", "problems-list"),
                       (f"/my-week/?user={delivery.pk}", "my-week"), ("/team-calendar/", "team-calendar")):
        page.goto(path)
        link = page.get_by_role("link", name="Export CSV")
        assert link.is_visible(), path
        box = link.bounding_box()
        assert box is not None and box["x"] + box["width"] <= page.width, path
        screenshot(page, name)
    page.goto("/problems/?severity=low")
    _name, rows = downloaded_rows(page, "Export CSV")
    assert [r["Problem"] for r in rows] == ["Screens flicker in hall 2"] and rows[0]["Severity"] == "Low"
