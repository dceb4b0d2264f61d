"""The dashboards' pages, CSV exports and API: who sees what, the CSV holding the page's rows
with the same filters, the API's JSON holding the page's figures, and query budgets that do not
grow with the data."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm import roles
from crm import services as crm
from delivery import services as delivery_services
from delivery.models import Problem
from flows import actions as flows
from handover import services as handover_services
from tests.conftest import accept_deal, api_for, client_for, make_user
from tests.insights_world import END, START, build_world, now

# Its fixed dates come after its fixtures only if the fixtures are made before them (tests.conftest).
pytestmark = pytest.mark.usefixtures("made_before_the_fixed_dates")

DASHBOARDS = ["performance", "reassignment", "risk", "delivery"]
TABLES = {
    "performance": ["people", "trend"],
    "reassignment": ["owners", "orphans", "single_threaded", "changes"],
    "risk": ["risk"],
    "delivery": ["waiting", "projects", "problems"],
}
PERIOD = f"start={START.isoformat()}&end={END.isoformat()}"


class TableParser(HTMLParser):
    """The text of each body row of each `<section id="table-...">` on a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.current: str | None = None
        self.in_body = False
        self.row: list[str] | None = None
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        ident = dict(attrs).get("id") or ""
        if tag == "section" and ident.startswith("table-"):
            self.current = ident.removeprefix("table-")
            self.tables[self.current] = []
        elif tag == "tbody" and self.current:
            self.in_body = True
        elif tag == "tr" and self.in_body:
            self.row = []
        elif tag == "td" and self.row is not None:
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self.cell is not None and self.row is not None:
            self.row.append(" ".join(" ".join(self.cell).split()))
            self.cell = None
        elif tag == "tr" and self.row is not None and self.current:
            self.tables[self.current].append(self.row)
            self.row = None
        elif tag == "tbody":
            self.in_body = False
        elif tag == "section":
            self.current = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def page_tables(response: Any) -> dict[str, list[list[str]]]:
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    parser = TableParser()
    parser.feed(response.content.decode())
    return parser.tables


def csv_rows(response: Any) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


def _names_the_same_row(table: str, in_csv: str, on_page: str) -> bool:
    """The first column names the row on both: the CSV has raw values (2027-01, ISO times), the page
    display text (Jan 2027, 1 Jan 2027 09:00) with at times a second line (the person's role)."""
    if table == "trend":
        return datetime.strptime(on_page, "%b %Y").replace(tzinfo=UTC).strftime("%Y-%m") == in_csv
    if table == "problems":  # categories: the code in the CSV, the label on the page
        return Problem.Category(in_csv).label == on_page
    if table == "changes":
        shown = datetime.strptime(on_page, "%d %b %Y %H:%M").replace(tzinfo=UTC)  # the site's zone is UTC
        return shown.strftime("%Y-%m-%dT%H:%M") == in_csv[:16]
    return on_page.startswith(in_csv)


# --- Who sees what ------------------------------------------------------------------------------


WHO = {
    # persona: (performance, reassignment, risk, delivery)
    "salesmgr": (200, 200, 200, 200),
    "deliverymgr": (200, 200, 200, 200),
    "admin_user": (200, 200, 200, 200),
    "rep": (200, 403, 403, 403),
    "presales": (200, 403, 403, 403),
    "delivery": (403, 403, 403, 403),
}


@pytest.mark.parametrize("persona", sorted(WHO))
def test_who_sees_each_dashboard(request, persona):
    user = request.getfixturevalue(persona)
    client = client_for(user)
    api = api_for(user)
    for name, expected in zip(DASHBOARDS, WHO[persona], strict=True):
        assert client.get(f"/insights/{name}/").status_code == expected, name
        assert client.get(f"/insights/{name}/?format=csv").status_code == expected, name
        assert api.get(f"/api/v1/insights/{name}/").status_code == expected, name


def test_anonymous_visitors_are_sent_to_log_in(db):
    response = client_for(None).get("/insights/performance/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert api_for(None).get("/api/v1/insights/performance/").status_code == 401


def test_the_index_sends_each_role_to_their_view(rep, salesmgr, delivery):
    assert client_for(salesmgr).get("/insights/")["Location"] == "/insights/performance/"
    assert client_for(rep).get("/insights/")["Location"] == f"/insights/people/{rep.pk}/"
    assert client_for(delivery).get("/insights/").status_code == 403


def test_a_rep_sees_their_own_page_and_nobody_elses(rep, rep2, presales, salesmgr, delivery):
    assert client_for(rep).get(f"/insights/people/{rep.pk}/").status_code == 200
    assert client_for(rep).get(f"/insights/people/{rep2.pk}/").status_code == 404
    assert client_for(presales).get(f"/insights/people/{rep.pk}/?format=csv").status_code == 404
    assert client_for(rep).get("/insights/people/999999/").status_code == 404
    assert client_for(delivery).get(f"/insights/people/{delivery.pk}/").status_code == 403
    assert client_for(salesmgr).get(f"/insights/people/{rep2.pk}/").status_code == 200
    assert client_for(salesmgr).get("/insights/people/999999/").status_code == 404


def test_a_reps_performance_page_and_api_show_only_their_row(rep, rep2, presales, salesmgr, deal):
    flows.deal_win(deal=deal, by=rep)
    page = page_tables(client_for(rep).get("/insights/performance/"))
    assert [row[0] for row in page["people"]] == ["Rep Sales rep"]
    data = api_for(rep).get("/api/v1/insights/performance/").json()
    assert [r["name"] for r in data["rows"]] == ["Rep"] and data["total"] is None
    assert [r["name"] for r in api_for(salesmgr).get("/api/v1/insights/performance/").json()["rows"]] == [
        "Presales", "Rep", "Rep2",
    ]


def test_wrong_method_and_unknown_table(salesmgr):
    client = client_for(salesmgr)
    assert client.post("/insights/performance/").status_code == 405
    assert client.get("/insights/performance/?format=csv&table=nope").status_code == 404
    assert api_for(salesmgr).post("/api/v1/insights/risk/").status_code == 405


def test_bad_filters_fall_back_on_the_page_and_are_refused_by_the_api(salesmgr):
    response = client_for(salesmgr).get("/insights/performance/?start=2027-03-01&end=2027-01-01")
    assert response.status_code == 200
    assert b"The period must start before it ends." in response.content
    assert b"Showing the last 90 days instead." in response.content
    api = api_for(salesmgr)
    assert api.get("/api/v1/insights/performance/?start=2027-03-01&end=2027-01-01").status_code == 400
    assert api.get("/api/v1/insights/delivery/?start=yesterday").status_code == 400
    assert api.get("/api/v1/insights/reassignment/?team=424242").status_code == 400


def test_the_nav_link_goes_where_the_role_may_look(rep, salesmgr, delivery):
    assert b'href="/insights/performance/"' in client_for(salesmgr).get("/accounts/").content
    assert f'href="/insights/people/{rep.pk}/"'.encode() in client_for(rep).get("/accounts/").content
    assert b">Insights</a>" not in client_for(delivery).get("/accounts/").content


# --- The hand-built history: CSV = page, API = page ---------------------------------------------


@pytest.fixture
def world(rep, rep2, presales, salesmgr, deliverymgr, delivery, account, deal, other_account, other_deal):
    return build_world(rep=rep, rep2=rep2, presales=presales, salesmgr=salesmgr, deliverymgr=deliverymgr,
                       delivery=delivery, account=account, deal=deal, other_account=other_account,
                       other_deal=other_deal)


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
    assert (rep["Role"], rep["Deals won"], rep["Value won"], rep["Kept rate"]) == (
        "Sales rep", "2", "48000.00 EUR; 5000.00 USD", "50.0",
    )
    with now():
        december = csv_rows(client.get("/insights/performance/?start=2026-12-01&end=2026-12-31&format=csv"))
    assert dict(zip(header, december[2], strict=True))["Deals won"] == "1"  # only the pilot
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
    assert deals[1][0] == "Acme line 2" and deals[1][-1] == "promise"
    assert [row[0] for row in page["problems"]] == ["Arm 2 misaligned", "PLC link missing"]


def test_the_risk_page_says_why(world):
    with now():
        page = page_tables(client_for(world.salesmgr).get("/insights/risk/"))  # logged in "now"
    assert [row[1] for row in page["risk"]] == ["Acme Robotics", "Initech"]
    acme = page["risk"][0]
    assert acme[5] == "15"
    assert "1 overdue check-up +3" in acme[6] and "single-threaded +4" in acme[6]


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
    assert [(c["category"], str(c["raised"])) for c in board["problems_by_category"]] == [
        (r[0], r[1]) for r in categories[1:-1]
    ]
    assert board["waiting"][0]["hours_left"] == 22.0 and board["waiting"][0]["overdue"] is False


def test_the_reassignment_page_offers_the_bulk_reassign_for_each_departed_owner(world):
    with now():
        content = client_for(world.salesmgr).get(f"/insights/reassignment/?{PERIOD}").content.decode()
    assert f'href="/reassign/book/?from_user={world.leaver.pk}"' in content
    with now():
        content = client_for(world.deliverymgr).get(f"/insights/reassignment/?{PERIOD}").content.decode()
    assert "from_user=" not in content  # delivery managers see the orphans but cannot reassign


def test_the_openapi_schema_documents_the_endpoints(salesmgr):
    schema = api_for(salesmgr).get("/api/schema/?format=json").json()
    for name in DASHBOARDS:
        operation = schema["paths"][f"/api/v1/insights/{name}/"]["get"]
        assert "200" in operation["responses"] and "403" in operation["responses"]
        if name != "risk":
            assert {"start", "end", "team"} <= {p["name"] for p in operation["parameters"]}


# --- Query budgets ------------------------------------------------------------------------------


def _grow(n: int, *, salesmgr: Any, deliverymgr: Any, delivery: Any, presales: Any) -> None:
    """n more reps, each with a customer accepted into delivery, a pre-sales promise, a problem
    traced to it, a done check-up, an ownership change and a departed rep's orphan account."""
    for i in range(n):
        seller = make_user(f"grow{i}", roles.SALES_REP)
        account = crm.account_create(by=seller, name=f"Grown {i}")
        crm.contact_create(account=account, by=seller, first_name=f"C{i}", email=f"c{i}@grown.example")
        crm.team_member_add(account=account, by=seller, user=presales, role="presales")
        deal = crm.deal_create(account=account, by=seller, name=f"Grown deal {i}", value="1000",
                               line_items=[{"kind": "service", "name": "Setup", "quantity": 1, "unit_price": "1000"}])
        promise = handover_services.promise_record(deal=deal, by=presales, kind="integration",
                                                   description="Talks to their ERP", source="demo")
        accept_deal(deal, rep=seller, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)
        delivery_services.problem_raise(account=account, by=delivery, title=f"Grown problem {i}", category="oversold",
                                        severity="high", promises=[promise])
        leaver = make_user(f"gone{i}", roles.SALES_REP)
        crm.account_create(by=leaver, name=f"Orphan {i}")
        leaver.is_active = False
        leaver.save(update_fields=["is_active"])


def _count(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries)


# Measured 19, 9, 13, 9 and 23 (person page) queries; the API 16, 6, 10, 6. A little headroom
# for the layout's navigation, which other apps extend; the real check is small == large.
# `fresh=1`: the figures computed, not a snapshot reused (that costs 4 queries or fewer).
BUDGETS = {
    "/insights/performance/?fresh=1": 22,
    "/insights/performance/?format=csv&fresh=1": 22,
    "/insights/people/{rep}/": 26,
    "/insights/people/{rep}/?format=csv&table=promises": 26,
    "/insights/reassignment/?fresh=1": 12,
    "/insights/reassignment/?format=csv&table=changes&fresh=1": 12,
    "/insights/risk/?fresh=1": 16,
    "/insights/risk/?format=csv&fresh=1": 16,
    "/insights/delivery/?fresh=1": 12,
    "/insights/delivery/?format=csv&table=problems&fresh=1": 12,
    "/api/v1/insights/performance/?fresh=1": 19,
    "/api/v1/insights/reassignment/?fresh=1": 9,
    "/api/v1/insights/risk/?fresh=1": 13,
    "/api/v1/insights/delivery/?fresh=1": 9,
}


def test_query_budgets_do_not_grow_with_the_data(
    project, rep, presales, salesmgr, deliverymgr, delivery, django_assert_max_num_queries,
):
    client, api = client_for(salesmgr), api_for(salesmgr)
    # One departed rep from the start: the orphans query runs only when someone has left.
    gone = make_user("gone", roles.SALES_REP)
    crm.account_create(by=gone, name="Left behind")
    gone.is_active = False
    gone.save(update_fields=["is_active"])

    def counts() -> dict[str, int]:
        found = {}
        for template, budget in BUDGETS.items():
            url = template.format(rep=rep.pk)
            with django_assert_max_num_queries(budget):
                found[url] = _count(api if url.startswith("/api/") else client, url)
        return found

    small = counts()
    _grow(6, salesmgr=salesmgr, deliverymgr=deliverymgr, delivery=delivery, presales=presales)
    large = counts()
    assert large == small
    # The data did grow: every dashboard has more rows to show.
    assert len(api.get("/api/v1/insights/risk/").json()["rows"]) == 7
    assert len(api.get("/api/v1/insights/performance/").json()["rows"]) == 8  # rep, presales, 6 sellers
    assert api.get("/api/v1/insights/reassignment/").json()["orphan_count"] == 7
    assert api.get("/api/v1/insights/delivery/").json()["active_projects"] == 7
