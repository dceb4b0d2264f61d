"""The accounts list's CSV export: the page's filters and visibility, labels rather than codes,
every matching row, streamed in a number of queries that does not grow with the rows."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.http import StreamingHttpResponse
from django.utils import timezone

from core.names import name_of
from crm import services
from crm.models import Account
from tests.scenarios import client_for, csv_of, export_queries
from tests.scenarios import crm_url as url

pytestmark = pytest.mark.django_db

EXPORT = "/accounts/export.csv"


def names(rows: list[dict[str, str]]) -> list[str]:
    return [r["Account"] for r in rows]


def page_names(client, params) -> list[str]:
    response = client.get(url("account_list"), params)
    return [a.name for a in response.context["page"].object_list]


def test_a_reps_export_has_their_accounts_with_labels_and_not_another_teams(
    rep: User, account: Account, other_account: Account
) -> None:
    response = client_for(rep).get(EXPORT)
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Disposition"].startswith('attachment; filename="keepwarm-accounts-')
    rows = csv_of(response)
    assert names(rows) == ["Acme Robotics"]
    acme = rows[0]
    assert acme["Stage"] == "Prospect"  # the label, not the code
    assert acme["Owner"] == name_of(rep)
    assert (acme["Single-threaded"], acme["Active contacts"], acme["Vendor people"]) == ("no", "2", "2")
    assert (acme["City"], acme["Industry"], acme["Archived"]) == ("Lyon", "Manufacturing", "no")
    assert acme["Created"][:10] == timezone.localdate(account.created_at).isoformat()


def test_the_export_applies_the_pages_filters(
    salesmgr: User, rep: User, account: Account, other_account: Account
) -> None:
    client = client_for(salesmgr)
    for params in (
        {}, {"q": "acme"}, {"owner": rep.pk}, {"threads": "single"}, {"threads": "multi"},
        {"lifecycle": "churned"}, {"mine": "on"}, {"q": "glo", "threads": "single"},
    ):
        assert names(csv_of(client.get(EXPORT, params))) == page_names(client, params), params
    assert names(csv_of(client.get(EXPORT, {"threads": "single"}))) == ["Globex"]
    single = csv_of(client.get(EXPORT, {"threads": "single"}))[0]
    assert single["Single-threaded"] == "yes"


def test_archived_accounts_are_left_out_unless_asked_for_and_merged_ones_always(
    salesmgr: User, rep: User, account: Account, other_account: Account
) -> None:
    kept = services.account_create(by=rep, name="Kept Ltd")
    Account.objects.filter(pk=account.pk).update(archived_at=timezone.now())
    Account.objects.filter(pk=other_account.pk).update(merged_into=kept)
    client = client_for(salesmgr)
    assert names(csv_of(client.get(EXPORT))) == ["Kept Ltd"] == page_names(client, {})
    with_archived = csv_of(client.get(EXPORT, {"archived": "on"}))
    assert names(with_archived) == ["Acme Robotics", "Kept Ltd"] == page_names(client, {"archived": "on"})
    assert with_archived[0]["Archived"] == "yes"
    assert b"archived</span>" in client.get(url("account_list"), {"archived": "on"}).content


def test_invalid_filters_are_ignored_as_the_page_ignores_them(
    salesmgr: User, account: Account, other_account: Account
) -> None:
    client = client_for(salesmgr)
    bad = {"owner": "not-a-person", "lifecycle": "nope", "threads": "x" * 500, "q": "a" * 300, "page": "-1"}
    assert names(csv_of(client.get(EXPORT, bad))) == ["Acme Robotics", "Globex"]
    assert names(csv_of(client.get(EXPORT, {**bad, "q": "glob"}))) == ["Globex"]


def test_it_takes_get_only_and_a_login(rep: User, account: Account) -> None:
    assert client_for(rep).post(EXPORT).status_code == 405
    anonymous = client_for(None).get(EXPORT)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")


def test_a_name_typed_as_a_formula_reaches_the_spreadsheet_as_text(rep: User) -> None:
    services.account_create(by=rep, name="=HYPERLINK(\"http://evil.example\")", city="@SUM(A1)")
    row = csv_of(client_for(rep).get(EXPORT))[0]
    assert row["Account"] == "'=HYPERLINK(\"http://evil.example\")" and row["City"] == "'@SUM(A1)"


def test_the_number_of_queries_does_not_grow_with_the_rows(rep: User, account: Account) -> None:
    client = client_for(rep)
    one = export_queries(client, EXPORT)
    for i in range(49):
        services.account_create(by=rep, name=f"Account {i:02d}", city="Paris")
    assert len(csv_of(client.get(EXPORT))) == 50
    assert export_queries(client, EXPORT) == one
    assert export_queries(client, EXPORT, threads="single", mine="on") <= one + 1


def test_the_list_page_links_to_the_export_with_its_filters(salesmgr: User, account: Account) -> None:
    content = client_for(salesmgr).get(url("account_list"), {"q": "acme", "page": "1"}).content.decode()
    assert 'href="/accounts/export.csv?q=acme"' in content
    assert 'href="/accounts/export.csv"' in client_for(salesmgr).get(url("account_list")).content.decode()
