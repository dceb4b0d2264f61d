"""The problems list's CSV export: the page's filters and visibility, labels rather than codes,
the promises each problem traces to who made them, in queries that do not grow with the rows."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.http import StreamingHttpResponse

from core.names import name_of
from crm.models import Account
from delivery import services
from delivery.models import Project
from handover.models import Promise
from tests.scenarios import client_for, csv_of, export_queries, problem, raise_problem
from tests.scenarios import delivery_url as url

pytestmark = pytest.mark.django_db

EXPORT = "/problems/export.csv"


def titles(rows: list[dict[str, str]]) -> list[str]:
    return [r["Problem"] for r in rows]


def page_titles(client, params) -> list[str]:
    return [p.title for p in client.get(url("problem_list"), params).context["page"].object_list]


def test_a_problems_row_has_labels_its_account_its_delivery_and_the_promise_it_traces(
    project: Project, rep: User, delivery: User, deliverymgr: User
) -> None:
    promise = Promise.objects.get(deal=project.deal)
    traced = problem(project, delivery, promises=[promise], category="oversold")
    services.problem_resolve(problem=traced, by=delivery, resolution="Sent the second arm.")
    response = client_for(deliverymgr).get(EXPORT)
    assert isinstance(response, StreamingHttpResponse)
    (row,) = csv_of(response)
    assert (row["Problem"], row["Category"], row["Severity"], row["State"], row["Raised from"]) == (
        "Arm 2 missing", "Oversold", "High", "Resolved", "Staff",
    )
    assert (row["Account"], row["Account owner"], row["Delivery of"]) == (
        "Acme Robotics", name_of(project.account.owner), project.deal.name,
    )
    assert (row["Promises traced"], row["Promised by"]) == (promise.description, name_of(rep))
    assert row["Raised by"] == name_of(delivery)
    assert row["Raised"] and row["Resolved"] and row["Closed"] == ""


def test_the_export_applies_the_pages_filters(project: Project, rep: User, delivery: User, deliverymgr: User) -> None:
    account = project.account
    crit = raise_problem(account, rep, title="Line down", severity="critical", category="product_defect")
    low = raise_problem(account, rep, title="Typo on invoice")
    services.problem_resolve(problem=low, by=delivery, resolution="Fixed the template.")
    client = client_for(deliverymgr)
    for params in (
        {}, {"severity": "critical"}, {"state": "resolved"}, {"category": "product_defect", "source": "staff"},
        {"q": "acme"}, {"q": "globex"}, {"owner": delivery.pk}, {"account": account.pk, "state": "open"},
        {"severity": "bogus", "state": "open"}, {"owner": "nobody", "account": "-3", "q": "x" * 500},
        {"account": "9" * 20, "owner": "9" * 20},
    ):
        assert titles(csv_of(client.get(EXPORT, params))) == page_titles(client, params), params
    assert titles(csv_of(client.get(EXPORT, {"severity": "bogus", "state": "open"}))) == [crit.title]
    assert low.title in titles(csv_of(client.get(EXPORT, {"owner": "nobody"})))


def test_a_rep_never_gets_another_teams_problems(
    project: Project, rep: User, rep2: User, other_account: Account, outsider: User
) -> None:
    raise_problem(project.account, rep, title="Ours")
    raise_problem(other_account, rep2, title="Theirs")
    assert titles(csv_of(client_for(rep).get(EXPORT))) == ["Ours"]
    assert titles(csv_of(client_for(rep).get(EXPORT, {"account": other_account.pk}))) == []
    assert titles(csv_of(client_for(outsider).get(EXPORT))) == []


def test_it_takes_get_only_and_a_login(rep: User) -> None:
    assert client_for(rep).post(EXPORT).status_code == 405
    anonymous = client_for(None).get(EXPORT)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")


def test_the_number_of_queries_does_not_grow_with_the_rows(project: Project, rep: User, deliverymgr: User) -> None:
    promise = Promise.objects.get(deal=project.deal)
    problem(project, rep, promises=[promise])
    client = client_for(deliverymgr)
    one = export_queries(client, EXPORT)
    for i in range(49):
        # A customer-side change traces the promise without breaking it again.
        problem(project, rep, title=f"Problem {i}", promises=[promise] if i % 2 else [], category="customer_change")
    assert len(csv_of(client.get(EXPORT))) == 50
    assert export_queries(client, EXPORT) == one


def test_the_list_page_links_to_the_export_with_its_filters(project: Project, deliverymgr: User) -> None:
    content = client_for(deliverymgr).get(url("problem_list"), {"state": "open", "page": "2"}).content.decode()
    assert 'href="/problems/export.csv?state=open"' in content
