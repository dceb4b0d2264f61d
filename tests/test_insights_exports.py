"""One table, three forms: every dashboard's CSV has the page's rows with the same filters, and
the API holds the page's figures (on the hand-built history, tests/insights_world.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from crm.models import Account, Deal, OwnershipChange
from delivery.models import Problem
from handover.models import Promise
from tests.insights_world import END, START, World, csv_rows, now, page_tables, world_for
from tests.scenarios import api_for, client_for

# Its fixed dates come after its fixtures only if the fixtures are made before them (tests.conftest).
pytestmark = pytest.mark.usefixtures("made_before_the_fixed_dates")


TABLES = {
    "performance": ["people", "trend"],
    "reassignment": ["owners", "orphans", "single_threaded", "changes"],
    "risk": ["risk"],
    "delivery": ["waiting", "projects", "problems"],
}


PERIOD = f"start={START.isoformat()}&end={END.isoformat()}"


@pytest.fixture
def world(request: pytest.FixtureRequest) -> World:
    return world_for(request)


def _names_the_same_row(table: str, in_csv: str, on_page: str) -> bool:
    """The first column names the row on both: the CSV has raw values (2027-01, ISO times), the page
    display text (Jan 2027, 1 Jan 2027 09:00) with at times a second line (the person's role)."""
    if table == "trend":
        return datetime.strptime(on_page, "%b %Y").replace(tzinfo=UTC).strftime("%Y-%m") == in_csv
    if table == "problems":  # categories: the label on both
        return in_csv == on_page
    if table == "changes":
        shown = datetime.strptime(on_page, "%d %b %Y %H:%M").replace(tzinfo=UTC)  # the site's zone is UTC
        return shown.strftime("%Y-%m-%dT%H:%M") == in_csv[:16]
    return on_page.startswith(in_csv)


def test_every_csv_has_the_pages_rows_with_the_same_filters(world):
    with now():  # a session made today would have expired by "now"
        client = client_for(world.salesmgr)
    for query in (PERIOD, f"{PERIOD}&team={world.salesmgr.pk}", "start=2026-12-01&end=2026-12-31"):
        for dashboard, names in TABLES.items():
            with now():
                page = page_tables(client.get(f"/insights/{dashboard}/?{query}"))
            for name in names:
                with now():
                    rows = csv_rows(client.get(f"/insights/{dashboard}/?{query}&format=csv&table={name}"))
                body = rows[1:len(page[name]) + 1]
                assert len(body) == len(page[name]), (dashboard, name, query)
                # The first column names the row on both (the page may add a second line).
                assert all(_names_the_same_row(name, r[0], p[0]) for r, p in zip(body, page[name], strict=True)), (
                    dashboard, name,
                )
    with now():
        people = csv_rows(client.get(f"/insights/performance/?{PERIOD}&format=csv"))
    header = people[0]
    assert [r[0] for r in people[1:]] == ["Presales", "Rep", "Rep2", "Team total"]
    rep = dict(zip(header, people[2], strict=True))
    # Value won: one amount column per currency (insights.tables), each a plain number.
    assert (rep["Role"], rep["Deals won"], rep["Value won (EUR)"], rep["Value won (USD)"], rep["Kept rate"]) == (
        "Sales rep", "2", "48000.00", "5000.00", "50.0",
    )
    assert "Value won" not in header
    presales = dict(zip(header, people[1], strict=True))
    assert (presales["Value won (EUR)"], presales["Value won (USD)"]) == ("", "")
    total = dict(zip(header, people[-1], strict=True))
    assert (total["Value won (EUR)"], total["Value won (USD)"]) == ("57000.00", "5000.00")
    with now():
        december = csv_rows(client.get("/insights/performance/?start=2026-12-01&end=2026-12-31&format=csv"))
    # Its own header: the currency columns are those of its rows.
    assert dict(zip(december[0], december[2], strict=True))["Deals won"] == "1"  # only the pilot
    with now():
        teamed = csv_rows(client.get(f"/insights/performance/?{PERIOD}&team={world.salesmgr.pk}&format=csv"))
    assert [r[0] for r in teamed[1:]] == ["Rep", "Team total"]


def test_the_person_page_and_its_csv(world):
    with now():
        client = client_for(world.salesmgr)
    with now():
        response = client.get(f"/insights/people/{world.presales.pk}/?{PERIOD}")
        page = page_tables(response)
        deals = csv_rows(client.get(f"/insights/people/{world.presales.pk}/?{PERIOD}&format=csv&table=deals"))
    assert [row[0] for row in page["deals"]] == ["Acme line 2"]
    deal = dict(zip(deals[0], deals[1], strict=True))
    assert (deal["Deal"], deal["Part"]) == ("Acme line 2", "Made a promise")
    assert (deal["Value"], deal["Currency"]) == ("48000.00", "EUR")
    assert [row[0] for row in page["problems"]] == ["Arm 2 misaligned", "PLC link missing"]


def test_the_api_holds_the_pages_figures(world):
    with now():
        client, api = client_for(world.salesmgr), api_for(world.salesmgr)
    with now():
        people = csv_rows(client.get(f"/insights/performance/?{PERIOD}&format=csv"))
        perf = api.get(f"/api/v1/insights/performance/?{PERIOD}").json()
    header = people[0]
    csv_by_name = {r[0]: dict(zip(header, r, strict=True)) for r in people[1:]}
    for row in [*perf["rows"], perf["total"]]:
        shown = csv_by_name[row["name"]]
        assert str(row["deals_won"]) == shown["Deals won"]
        assert str(row["promises_made"]) == shown["Promises made"]
        assert str(row["problems_traced"]) == shown["Problems traced"]
        assert (str(row["kept_rate"]) if row["kept_rate"] is not None else "") == shown["Kept rate"]
        assert (str(row["median_day30_satisfaction"] or "")) == shown["Median day-30 satisfaction"]
    assert perf["total"]["won_value"] == {"EUR": "57000.00", "USD": "5000.00"}

    with now():
        risk_csv = csv_rows(client.get("/insights/risk/?format=csv"))
        risk = api.get("/api/v1/insights/risk/").json()
    assert [(r["account"], str(r["score"])) for r in risk["rows"]] == [(r[1], r[5]) for r in risk_csv[1:]]
    assert [x["code"] for x in risk["rows"][0]["reasons"]][-1] == "single_thread"

    with now():
        owners = csv_rows(client.get(f"/insights/reassignment/?{PERIOD}&format=csv&table=owners"))
        reassignment = api.get(f"/api/v1/insights/reassignment/?{PERIOD}").json()
    assert [(o["name"], str(o["accounts"])) for o in reassignment["owners"]] == [(r[0], r[2]) for r in owners[1:-1]]
    assert reassignment["orphan_count"] == 1 and reassignment["changes_by_reason"] == {"handover": 2, "territory": 1}

    with now():
        categories = csv_rows(client.get(f"/insights/delivery/?{PERIOD}&format=csv&table=problems"))
        board = api.get(f"/api/v1/insights/delivery/?{PERIOD}").json()
    assert [(Problem.Category(c["category"]).label, str(c["raised"])) for c in board["problems_by_category"]] == [
        (r[0], r[1]) for r in categories[1:-1]
    ]
    assert board["waiting"][0]["hours_left"] == 22.0 and board["waiting"][0]["overdue"] is False


# An amount glued to its currency, as the CSVs had it (`106160.00 EUR`).
AMOUNT_WITH_CURRENCY = re.compile(r"^-?\d+(\.\d+)? [A-Z]{3}$")
CODED = (OwnershipChange.Reason, Promise.State, Promise.Kind, Promise.Source, Problem.Category, Problem.Severity,
         Problem.State, Problem.Source, Deal.Stage, Account.Lifecycle)


def test_no_dashboard_csv_has_an_amount_glued_to_its_currency_or_a_raw_code(world):
    with now():
        client, api = client_for(world.salesmgr), api_for(world.salesmgr)
        risk_codes = {x["code"] for r in api.get("/api/v1/insights/risk/").json()["rows"] for x in r["reasons"]}
    codes = {value for choices in CODED for value, label in choices.choices if value != label}
    codes |= risk_codes | {"sold", "promise"}  # and a person's part in a deal
    assert {"handover", "territory", "single_thread"} <= codes
    urls = [f"/insights/{dashboard}/?{PERIOD}&format=csv&table={name}" for dashboard, names in TABLES.items()
            for name in names]
    urls += [f"/insights/people/{person.pk}/?{PERIOD}&format=csv&table={name}"
             for person in (world.rep, world.presales)
             for name in ("scorecard", "trend", "deals", "promises", "problems")]
    seen = 0
    for url in urls:
        with now():
            rows = csv_rows(client.get(url))
        for row in rows:
            for value in row:
                seen += 1
                assert not AMOUNT_WITH_CURRENCY.match(value), (url, value)
                assert not any(AMOUNT_WITH_CURRENCY.match(part) for part in value.split("; ")), (url, value)
                assert value not in codes, (url, value)
    assert seen > 200


def test_money_columns_are_an_amount_and_a_currency_or_one_column_per_currency(world):
    with now():
        client = client_for(world.salesmgr)
        deals = csv_rows(client.get(f"/insights/people/{world.rep.pk}/?{PERIOD}&format=csv&table=deals"))
        people = csv_rows(client.get(f"/insights/performance/?{PERIOD}&format=csv"))
        changes = csv_rows(client.get(f"/insights/reassignment/?{PERIOD}&format=csv&table=changes"))
    header = deals[0]
    assert header[header.index("Value") + 1] == "Currency"
    for row in deals[1:]:
        amount, currency = row[header.index("Value")], row[header.index("Currency")]
        assert float(amount) > 0 and re.fullmatch(r"[A-Z]{3}", currency)
    assert [h for h in people[0] if h.startswith("Value won")] == ["Value won (EUR)", "Value won (USD)"]
    reasons = {dict(zip(changes[0], row, strict=True))["Reason"] for row in changes[1:]}
    assert reasons == {"Handover to delivery", "Territory change"}
