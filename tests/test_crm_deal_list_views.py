"""crm's deals list (/deals/) and its CSV export (/deals/export.csv): visibility, filters kept
in the URL (several stages, status, owner, close dates, amounts), sorting, paging, deals of
archived accounts, bad input named and ignored, query budgets."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm import services
from crm.models import Account, Deal
from flows import actions as flows
from tests.scenarios import client_for, queries
from tests.scenarios import crm_url as url

pytestmark = pytest.mark.django_db


def names(response: Any) -> list[str]:
    return [d.name for d in response.context["page"].object_list]


def exported(response: Any) -> list[list[str]]:
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


@pytest.fixture
def pipeline(account: Account, other_account: Account, rep: User, rep2: User, deal: Deal, other_deal: Deal) -> dict[str, Deal]:
    """rep's deals on Acme: "Acme line 2" (lead, 48,000 EUR), "Acme service" (proposal, 5,000,
    closing 15 March 2027), "Acme spares" (lost, 900 USD), "Acme robots" (won, 120,000, closing
    1 Feb 2027); rep2's "Globex renewal" (lead, 9,000) on Globex."""
    service = services.deal_create(account=account, by=rep, name="Acme service", value="5000",
                                   expected_close_date=date(2027, 3, 15))
    services.deal_move(deal=service, by=rep, to="proposal")
    spares = services.deal_create(account=account, by=rep, name="Acme spares", value="900", currency="USD")
    services.deal_lose(deal=spares, by=rep, reason="Budget")
    robots = services.deal_create(account=account, by=rep, name="Acme robots", value="120000",
                                  expected_close_date=date(2027, 2, 1))
    flows.deal_win(deal=robots, by=rep)
    return {"line": deal, "service": service, "spares": spares, "robots": robots, "globex": other_deal}


# --- The page ---------------------------------------------------------------------------------


def test_it_lists_my_deals_newest_change_first_and_not_another_reps(rep: User, pipeline: dict[str, Deal]) -> None:
    response = client_for(rep).get(url("deal_list"))
    assert response.status_code == 200
    assert names(response) == ["Acme robots", "Acme spares", "Acme service", "Acme line 2"]
    assert b"Globex" not in response.content
    content = response.content.decode()
    assert "Proposal" in content and "Won" in content  # stage labels
    assert "48,000 EUR" in content and "900 USD" in content


def test_a_manager_sees_every_deal_and_an_outsider_none(salesmgr: User, outsider: User, pipeline: dict[str, Deal]) -> None:
    assert len(names(client_for(salesmgr).get(url("deal_list")))) == 5
    response = client_for(outsider).get(url("deal_list"))
    assert names(response) == [] and b"No deals yet" in response.content


def test_it_asks_to_log_in_and_refuses_a_post(rep: User) -> None:
    assert client_for(None).get(url("deal_list")).status_code == 302
    assert client_for(rep).post(url("deal_list")).status_code == 405
    assert client_for(None).get(url("deal_export")).status_code == 302


def test_it_searches_deal_and_account_names(salesmgr: User, pipeline: dict[str, Deal]) -> None:
    client = client_for(salesmgr)
    assert names(client.get(url("deal_list"), {"q": "spare"})) == ["Acme spares"]
    assert names(client.get(url("deal_list"), {"q": "globex"})) == ["Globex renewal"]


def test_it_filters_by_several_stages_status_and_owner(salesmgr: User, rep: User, rep2: User, pipeline: dict[str, Deal]) -> None:
    client = client_for(salesmgr)
    several = names(client.get(url("deal_list"), {"stage": ["lead", "proposal"], "sort": "name"}))
    assert several == ["Acme line 2", "Acme service", "Globex renewal"]
    assert names(client.get(url("deal_list"), {"status": "won"})) == ["Acme robots"]
    assert names(client.get(url("deal_list"), {"status": "lost"})) == ["Acme spares"]
    assert set(names(client.get(url("deal_list"), {"status": "open"}))) == {"Acme line 2", "Acme service", "Globex renewal"}
    assert names(client.get(url("deal_list"), {"owner": rep2.pk})) == ["Globex renewal"]
    assert names(client.get(url("deal_list"), {"mine": "on"})) == []  # the manager owns none
    assert names(client_for(rep2).get(url("deal_list"), {"mine": "on"})) == ["Globex renewal"]


def test_it_filters_by_close_dates_and_amounts(salesmgr: User, pipeline: dict[str, Deal]) -> None:
    client = client_for(salesmgr)
    assert names(client.get(url("deal_list"), {"close_from": "2027-03-01"})) == ["Acme service"]
    assert names(client.get(url("deal_list"), {"close_to": "2027-02-28"})) == ["Acme robots"]
    assert names(client.get(url("deal_list"), {"close_from": "2027-01-01", "close_to": "2027-12-31", "sort": "close"})) == [
        "Acme robots", "Acme service",
    ]
    assert names(client.get(url("deal_list"), {"amount_min": "10000", "sort": "-amount"})) == ["Acme robots", "Acme line 2"]
    assert names(client.get(url("deal_list"), {"amount_min": "1000", "amount_max": "9000", "sort": "amount"})) == [
        "Acme service", "Globex renewal",
    ]


@pytest.mark.parametrize(
    ("params", "label"),
    [
        ({"close_from": "not-a-date"}, "Closing from:"),
        ({"close_from": "2027-04-01", "close_to": "2027-03-01"}, "Closing to:"),
        ({"amount_min": "lots"}, "Amount from:"),
        ({"amount_min": "-5"}, "Amount from:"),
        ({"amount_max": "1e400"}, "Amount to:"),
        ({"amount_min": "500", "amount_max": "100"}, "Amount to:"),
        ({"stage": ["lead", "sold"]}, "Stages:"),
        ({"owner": "x"}, "Owner:"),
        ({"status": "maybe"}, "Status:"),
        ({"q": "a\x00b"}, "Search:"),
    ],
)
def test_bad_filter_input_is_named_and_ignored_while_the_valid_filters_still_apply(
    salesmgr: User, pipeline: dict[str, Deal], params: dict[str, Any], label: str,
) -> None:
    response = client_for(salesmgr).get(url("deal_list"), params)
    assert response.status_code == 200
    assert label.encode() in response.content
    assert b"This filter was ignored" in response.content


def test_a_bad_field_does_not_stop_the_others(salesmgr: User, pipeline: dict[str, Deal]) -> None:
    response = client_for(salesmgr).get(url("deal_list"), {"close_from": "31/02/2027", "status": "won"})
    assert names(response) == ["Acme robots"]
    assert b"Closing from:" in response.content


def test_deals_of_archived_or_merged_accounts_are_hidden_unless_asked(
    salesmgr: User, account: Account, other_account: Account, pipeline: dict[str, Deal],
) -> None:
    Account.objects.filter(pk=account.pk).update(archived_at=timezone.now())
    Account.objects.filter(pk=other_account.pk).update(merged_into=account)
    client = client_for(salesmgr)
    assert names(client.get(url("deal_list"))) == []
    assert len(names(client.get(url("deal_list"), {"archived": "on"}))) == 5


def test_it_sorts_by_the_allowed_columns_and_ignores_unknown_sorts(salesmgr: User, pipeline: dict[str, Deal]) -> None:
    client = client_for(salesmgr)
    assert names(client.get(url("deal_list"), {"sort": "-amount"}))[:2] == ["Acme robots", "Acme line 2"]
    assert names(client.get(url("deal_list"), {"sort": "name"}))[0] == "Acme line 2"
    assert names(client.get(url("deal_list"), {"sort": "-account"}))[0] == "Globex renewal"
    by_stage = [d.stage for d in client.get(url("deal_list"), {"sort": "stage"}).context["page"].object_list]
    assert by_stage == ["lead", "lead", "proposal", "won", "lost"]  # the pipeline's order
    by_stage = [d.stage for d in client.get(url("deal_list"), {"sort": "-stage"}).context["page"].object_list]
    assert by_stage == ["lost", "won", "proposal", "lead", "lead"]
    default = names(client.get(url("deal_list")))
    for junk in ("lost_reason", "-owner__password", "", "updated;"):
        response = client.get(url("deal_list"), {"sort": junk})
        assert response.status_code == 200 and names(response) == default


def test_the_headers_sort_and_keep_the_filters(rep: User, pipeline: dict[str, Deal]) -> None:
    content = client_for(rep).get(url("deal_list"), {"stage": ["lead", "won"], "page": "1"}).content.decode()
    assert 'href="?stage=lead&amp;stage=won&amp;sort=-amount"' in content  # amounts: largest first
    assert 'href="?stage=lead&amp;stage=won&amp;sort=updated"' in content  # the default, reversed
    assert f'href="{url("deal_export")}?stage=lead&amp;stage=won"' in content


def test_it_pages_by_50_and_keeps_the_query_string(rep: User, account: Account) -> None:
    for i in range(52):
        services.deal_create(account=account, by=rep, name=f"Deal {i:02d}", value=str(i))
    client = client_for(rep)
    first = client.get(url("deal_list"), {"q": "deal", "sort": "name"})
    assert len(first.context["page"].object_list) == 50
    assert 'href="?q=deal&amp;sort=name&amp;page=2"' in first.content.decode()
    assert names(client.get(url("deal_list"), {"q": "deal", "sort": "name", "page": 2})) == ["Deal 50", "Deal 51"]


def test_its_queries_do_not_grow_with_the_rows(rep: User, salesmgr: User, account: Account) -> None:
    clients = [client_for(rep), client_for(salesmgr)]
    for i in range(3):
        services.deal_create(account=account, by=rep, name=f"Deal {i}", value="10")
    few = [queries(client, url("deal_list")) for client in clients]
    for i in range(27):
        services.deal_create(account=account, by=rep, name=f"More {i}", value="10")
    assert [queries(client, url("deal_list")) for client in clients] == few
    assert [queries(client, url("deal_list"), stage="lead", q="e", sort="-owner") for client in clients] == few


# --- The export -------------------------------------------------------------------------------


def test_the_export_has_labels_amounts_in_their_own_column_and_only_what_i_see(
    rep: User, pipeline: dict[str, Deal],
) -> None:
    services.deal_update(deal=pipeline["line"], by=rep, name="@SUM(A1:A9)")
    response = client_for(rep).get(url("deal_export"), {"sort": "name"})
    assert response["Content-Disposition"].startswith('attachment; filename="keepwarm-deals-')
    rows = exported(response)
    assert rows[0] == ["Deal", "Account", "Stage", "Amount", "Currency", "Expected close", "Owner", "Closed",
                       "Created", "Updated"]
    by_name = {row[0]: row for row in rows[1:]}
    assert set(by_name) == {"'@SUM(A1:A9)", "Acme service", "Acme spares", "Acme robots"}  # no Globex
    assert by_name["Acme service"][1:7] == ["Acme Robotics", "Proposal", "5000.00", "EUR", "2027-03-15", "Rep"]
    assert by_name["Acme spares"][2:5] == ["Lost", "900.00", "USD"]
    assert by_name["Acme robots"][2] == "Won" and by_name["Acme robots"][7] != ""


def test_the_export_applies_the_pages_filters(salesmgr: User, pipeline: dict[str, Deal]) -> None:
    rows = exported(client_for(salesmgr).get(url("deal_export"), {"status": "open", "amount_min": "6000", "sort": "-amount"}))
    assert [row[0] for row in rows[1:]] == ["Acme line 2", "Globex renewal"]
    # A bad field is ignored as on the page.
    rows = exported(client_for(salesmgr).get(url("deal_export"), {"status": "won", "close_to": "soon"}))
    assert [row[0] for row in rows[1:]] == ["Acme robots"]


def _export_queries(client: Any) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as ctx:
        rows = exported(client.get(url("deal_export")))
    return len(ctx.captured_queries), len(rows)


def test_the_exports_queries_do_not_grow_with_the_rows(rep: User, account: Account, deal: Deal) -> None:
    client = client_for(rep)
    few, one = _export_queries(client)
    assert one == 2
    for i in range(40):
        services.deal_create(account=account, by=rep, name=f"Deal {i}", value=Decimal(i))
    many, rows = _export_queries(client)
    assert rows == 42 and many == few


@pytest.mark.parametrize("value", ["\x00", "99999999999999999999", "1e309", "-1", "9999-12-31", "x" * 5000])
def test_the_exports_survive_hostile_filters(salesmgr: User, pipeline: dict[str, Deal], value: str) -> None:
    names_ = ["q", "stage", "status", "owner", "mine", "close_from", "close_to", "amount_min", "amount_max",
              "archived", "sort", "role", "active", "do_not_contact", "page"]
    client = client_for(salesmgr)
    for export in ("deal_export", "contact_export"):
        rows = exported(client.get(url(export), dict.fromkeys(names_, value)))
        assert rows[0][0] in {"Deal", "Name"}
