"""The API's pagination (core.api.pagination): pages of `page_size` rows with next/previous links,
an exact `count` up to the cap and `null` beyond it, a cost that does not grow with the data,
and 404 for pages that do not exist."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.api import pagination
from crm.models import Account
from tests.scenarios import api_for

API = "/api/v1/accounts/"


@pytest.fixture
def twelve_accounts(rep: Any) -> list[Account]:
    return Account.objects.bulk_create(
        Account(name=f"Account {n:02d}", owner=rep) for n in range(12)
    )


@pytest.fixture
def small_cap(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(pagination.StandardPagination, "count_cap", 5)
    return 5


def _names(body: dict[str, Any]) -> list[str]:
    return [row["name"] for row in body["results"]]


def test_pages_follow_their_links_to_the_end_with_an_exact_count(twelve_accounts, salesmgr):
    client = api_for(salesmgr)
    seen: list[str] = []
    url: str | None = API + "?page_size=5&ordering=name"
    previous = []
    while url:
        response = client.get(url)
        assert response.status_code == 200
        body = response.json()
        assert body["count"] == 12
        previous.append(body["previous"])
        seen += _names(body)
        url = body["next"]
    assert seen == [f"Account {n:02d}" for n in range(12)]
    assert previous[0] is None and "page=" not in previous[1] and "&page=2" in previous[2]


def test_past_the_cap_the_count_is_null_and_every_page_stays_reachable(twelve_accounts, salesmgr, small_cap):
    client = api_for(salesmgr)
    first = client.get(API, {"page_size": 2, "ordering": "name"}).json()
    assert first["count"] is None and first["next"] and first["previous"] is None
    third = client.get(API, {"page_size": 2, "ordering": "name", "page": 3}).json()
    assert third["count"] is None and _names(third) == ["Account 04", "Account 05"]
    # The last page knows the count from its offset, without counting.
    last = client.get(API, {"page_size": 2, "ordering": "name", "page": 6}).json()
    assert last["count"] == 12 and last["next"] is None and _names(last) == ["Account 10", "Account 11"]


def test_at_the_cap_the_count_is_still_exact(rep, salesmgr, small_cap):
    Account.objects.bulk_create(Account(name=f"Account {n}", owner=rep) for n in range(small_cap))
    body = api_for(salesmgr).get(API, {"page_size": 2}).json()
    assert body["count"] == small_cap and body["next"]


def test_the_count_stops_at_the_cap_whatever_the_table_holds(twelve_accounts, salesmgr, small_cap):
    with CaptureQueriesContext(connection) as queries:
        assert api_for(salesmgr).get(API, {"page_size": 2}).status_code == 200
    counts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT COUNT(")]
    assert len(counts) == 1 and f"LIMIT {small_cap + 1}" in counts[0]


def test_the_last_page_needs_no_count_query(twelve_accounts, salesmgr):
    with CaptureQueriesContext(connection) as queries:
        body = api_for(salesmgr).get(API, {"page_size": 5, "page": 3}).json()
    assert body["count"] == 12 and len(body["results"]) == 2
    assert not [q for q in queries.captured_queries if q["sql"].startswith("SELECT COUNT(")]


def test_an_empty_list_is_one_empty_page(salesmgr):
    body = api_for(salesmgr).get(API).json()
    assert body == {"count": 0, "next": None, "previous": None, "results": []}


@pytest.mark.parametrize("page", ["0", "-1", "abc", "1.5", "4", "1000000001", str(10**20)])
def test_a_page_that_does_not_exist_is_404(twelve_accounts, salesmgr, page):
    response = api_for(salesmgr).get(API, {"page_size": 5, "page": page})
    assert response.status_code == 404 and response.json()["detail"] == "Invalid page."


def test_the_schema_says_the_count_may_be_null(salesmgr):
    schema = api_for(salesmgr).get("/api/schema/", HTTP_ACCEPT="application/json").json()
    count = schema["components"]["schemas"]["PaginatedAccountList"]["properties"]["count"]
    assert count["nullable"] is True and "10,000" in count["description"]
