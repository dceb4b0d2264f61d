"""Every dashboard, its CSV and its API answer in a fixed number of queries, whatever the data's
size."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm import roles
from crm import services as crm
from delivery import services as delivery_services
from handover import services as handover_services
from tests.scenarios import accept_deal, api_for, client_for, make_user

# Its fixed dates come after its fixtures only if the fixtures are made before them (tests.conftest).
pytestmark = pytest.mark.usefixtures("made_before_the_fixed_dates")


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
