"""crm's contacts list (/contacts/) and its CSV export (/contacts/export.csv): visibility,
filters kept in the URL, sorting, paging, archived rows, bad input, query budgets."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm import services
from crm.models import Account, AccountTeamMember, Contact
from tests.scenarios import client_for, queries
from tests.scenarios import crm_url as url

pytestmark = pytest.mark.django_db


def names(response: Any) -> list[str]:
    return [c.full_name for c in response.context["page"].object_list]


def exported(response: Any) -> list[list[str]]:
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def add_contacts(account: Account, by: User, n: int, **fields: Any) -> None:
    for i in range(n):
        services.contact_create(account=account, by=by, first_name=f"Person{i:02d}", last_name=f"Zed{i:02d}", **fields)


# --- The page ---------------------------------------------------------------------------------


def test_it_lists_the_contacts_of_my_accounts_and_not_another_reps(
    rep: User, account: Account, other_account: Account,
) -> None:
    response = client_for(rep).get(url("contact_list"))
    assert response.status_code == 200
    assert names(response) == ["Alice Martin", "Bruno Petit"]
    assert b"Greta" not in response.content
    assert b"Acme Robotics" in response.content and b"alice@acme.example" in response.content
    assert b"Decision maker" in response.content  # the role's label, not its code


def test_a_manager_sees_every_accounts_contacts(salesmgr: User, account: Account, other_account: Account) -> None:
    assert names(client_for(salesmgr).get(url("contact_list"))) == ["Greta Klein", "Alice Martin", "Bruno Petit"]


def test_an_outsider_sees_no_contact(outsider: User, account: Account) -> None:
    response = client_for(outsider).get(url("contact_list"))
    assert response.status_code == 200
    assert names(response) == [] and b"No contacts yet" in response.content


def test_it_asks_to_log_in_and_refuses_a_post(rep: User) -> None:
    assert client_for(None).get(url("contact_list")).status_code == 302
    assert client_for(rep).post(url("contact_list")).status_code == 405
    assert client_for(None).get(url("contact_export")).status_code == 302


def test_the_nav_links_to_the_contacts_and_deals_lists(rep: User) -> None:
    content = client_for(rep).get(url("account_list")).content
    assert f'href="{url("contact_list")}"'.encode() in content
    assert f'href="{url("deal_list")}"'.encode() in content


def test_it_searches_name_email_and_phone(rep: User, account: Account) -> None:
    alice = account.contacts.get(first_name="Alice")
    services.contact_update(contact=alice, by=rep, phone="+33 4 72 00 11 22")
    client = client_for(rep)
    assert names(client.get(url("contact_list"), {"q": "petit"})) == ["Bruno Petit"]
    assert names(client.get(url("contact_list"), {"q": "alice@acme"})) == ["Alice Martin"]
    assert names(client.get(url("contact_list"), {"q": "72 00 11"})) == ["Alice Martin"]
    response = client.get(url("contact_list"), {"q": "nobody-like-this"})
    assert b"No contact matches these filters" in response.content


def test_it_filters_by_role_owner_mine_still_there_and_do_not_contact(
    salesmgr: User, rep: User, rep2: User, account: Account, other_account: Account,
) -> None:
    bruno = account.contacts.get(first_name="Bruno")
    services.contact_update(contact=bruno, by=rep, is_active=False, do_not_contact=True)
    client = client_for(salesmgr)
    assert names(client.get(url("contact_list"), {"role": "technical"})) == ["Bruno Petit"]
    assert names(client.get(url("contact_list"), {"owner": rep2.pk})) == ["Greta Klein"]
    assert names(client.get(url("contact_list"), {"active": "no"})) == ["Bruno Petit"]
    assert names(client.get(url("contact_list"), {"active": "yes", "owner": rep.pk})) == ["Alice Martin"]
    assert names(client.get(url("contact_list"), {"do_not_contact": "yes"})) == ["Bruno Petit"]
    assert names(client.get(url("contact_list"), {"do_not_contact": "no", "owner": rep.pk})) == ["Alice Martin"]
    # The manager is on no team: "on my accounts" leaves everything out until they join one.
    assert names(client.get(url("contact_list"), {"mine": "on"})) == []
    AccountTeamMember.objects.create(account=other_account, user=salesmgr, role="sales_manager")
    assert names(client.get(url("contact_list"), {"mine": "on"})) == ["Greta Klein"]


def test_archived_and_merged_contacts_and_those_of_archived_accounts_are_hidden_unless_asked(
    salesmgr: User, account: Account, other_account: Account,
) -> None:
    alice = account.contacts.get(first_name="Alice")
    bruno = account.contacts.get(first_name="Bruno")
    Contact.objects.filter(pk=alice.pk).update(archived_at=timezone.now())
    Contact.objects.filter(pk=bruno.pk).update(merged_into=alice)
    Account.objects.filter(pk=other_account.pk).update(archived_at=timezone.now())
    client = client_for(salesmgr)
    assert names(client.get(url("contact_list"))) == []
    shown = client.get(url("contact_list"), {"archived": "on"})
    assert names(shown) == ["Greta Klein", "Alice Martin", "Bruno Petit"]
    assert b"Archived" in shown.content


def test_bad_filter_input_is_named_and_ignored_while_the_valid_filters_still_apply(
    rep: User, account: Account,
) -> None:
    response = client_for(rep).get(url("contact_list"), {"owner": "99999999", "role": "billingx", "q": "bruno"})
    assert response.status_code == 200
    assert names(response) == ["Bruno Petit"]  # q still filters
    assert b"Account owner:" in response.content and b"Role:" in response.content
    assert b"This filter was ignored" in response.content


def test_it_sorts_by_the_allowed_columns_and_ignores_unknown_sorts(salesmgr: User, account: Account, other_account: Account) -> None:
    client = client_for(salesmgr)
    assert names(client.get(url("contact_list"), {"sort": "-name"})) == ["Bruno Petit", "Alice Martin", "Greta Klein"]
    assert names(client.get(url("contact_list"), {"sort": "account"}))[0] == "Alice Martin"
    assert names(client.get(url("contact_list"), {"sort": "-account"})) == ["Greta Klein", "Bruno Petit", "Alice Martin"]
    assert names(client.get(url("contact_list"), {"sort": "-created"}))[0] == "Greta Klein"
    for junk in ("password", "account__owner__password", "-", "name;drop"):
        response = client.get(url("contact_list"), {"sort": junk})
        assert response.status_code == 200
        assert names(response) == ["Greta Klein", "Alice Martin", "Bruno Petit"]


def test_the_sort_links_keep_the_filters_and_drop_the_page(rep: User, account: Account) -> None:
    content = client_for(rep).get(url("contact_list"), {"q": "a", "role": "technical", "page": "1", "sort": "name"}).content.decode()
    assert 'href="?q=a&amp;role=technical&amp;sort=-name"' in content  # the current sort, reversed
    assert 'href="?q=a&amp;role=technical&amp;sort=account"' in content
    assert 'aria-sort="ascending"' in content
    # The filter form carries a sort that is not the default.
    assert '<input type="hidden" name="sort" value="name">' not in content
    other = client_for(rep).get(url("contact_list"), {"sort": "-created"}).content.decode()
    assert '<input type="hidden" name="sort" value="-created">' in other


def test_it_pages_by_50_and_keeps_the_query_string(rep: User, account: Account) -> None:
    add_contacts(account, rep, 53, role="user")
    client = client_for(rep)
    first = client.get(url("contact_list"), {"role": "user", "sort": "-name"})
    assert len(first.context["page"].object_list) == 50
    assert first.context["page"].paginator.num_pages == 2
    assert 'href="?role=user&amp;sort=-name&amp;page=2"' in first.content.decode()
    second = client.get(url("contact_list"), {"role": "user", "sort": "-name", "page": 2})
    assert names(second) == ["Person02 Zed02", "Person01 Zed01", "Person00 Zed00"]
    assert client.get(url("contact_list"), {"page": "junk"}).status_code == 200


def test_the_page_count_is_capped(rep: User, account: Account, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.pagination import CappedPaginator

    monkeypatch.setattr(CappedPaginator, "cap", 1)
    response = client_for(rep).get(url("contact_list"))
    assert b"More than 1 contacts" in response.content


def test_its_queries_do_not_grow_with_the_rows(rep: User, salesmgr: User, account: Account) -> None:
    # A rep (visibility through the team) and a manager (sees all), at 2 rows and then at 30.
    clients = [client_for(rep), client_for(salesmgr)]
    few = [queries(client, url("contact_list"), sort="-account") for client in clients]
    add_contacts(account, rep, 28)
    assert account.contacts.count() == 30
    assert [queries(client, url("contact_list"), sort="-account") for client in clients] == few
    assert [queries(client, url("contact_list"), q="zed", role="other") for client in clients] == few


def test_the_export_link_carries_the_current_filters(rep: User, account: Account) -> None:
    content = client_for(rep).get(url("contact_list"), {"q": "bruno", "page": "1"}).content.decode()
    assert f'href="{url("contact_export")}?q=bruno"' in content


# --- The export -------------------------------------------------------------------------------


def test_the_export_has_the_pages_rows_with_labels_and_columns(rep: User, account: Account, other_account: Account) -> None:
    bruno = account.contacts.get(first_name="Bruno")
    services.contact_update(contact=bruno, by=rep, is_active=False, title="=HYPERLINK(\"http://evil\")")
    response = client_for(rep).get(url("contact_export"))
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="keepwarm-contacts-')
    rows = exported(response)
    header = rows[0]
    assert header[:8] == ["Name", "First name", "Last name", "Account", "Account owner", "Job title", "Role", "Email"]
    by_name = {row[0]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    assert set(by_name) == {"Alice Martin", "Bruno Petit"}  # not Greta, another rep's
    assert by_name["Alice Martin"]["Role"] == "Decision maker"
    assert by_name["Bruno Petit"]["Role"] == "Technical"
    assert by_name["Alice Martin"]["Account"] == "Acme Robotics"
    assert by_name["Alice Martin"]["Account owner"] == "Rep"
    assert by_name["Bruno Petit"]["Still at the organisation"] == "no"
    assert by_name["Bruno Petit"]["Job title"] == "'=HYPERLINK(\"http://evil\")"  # a formula, quoted


def test_the_export_applies_the_pages_filters_and_sort(salesmgr: User, account: Account, other_account: Account) -> None:
    rows = exported(client_for(salesmgr).get(url("contact_export"), {"role": "decision_maker", "sort": "-name"}))
    assert [row[0] for row in rows[1:]] == ["Alice Martin"]
    rows = exported(client_for(salesmgr).get(url("contact_export"), {"sort": "-name"}))
    assert [row[0] for row in rows[1:]] == ["Bruno Petit", "Alice Martin", "Greta Klein"]


def test_an_outsiders_export_is_only_the_header(outsider: User, account: Account) -> None:
    rows = exported(client_for(outsider).get(url("contact_export")))
    assert len(rows) == 1 and rows[0][0] == "Name"


def _export_queries(client: Any) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as ctx:
        rows = exported(client.get(url("contact_export")))
    return len(ctx.captured_queries), len(rows)


def test_the_exports_queries_do_not_grow_with_the_rows(rep: User, account: Account) -> None:
    client = client_for(rep)
    Contact.objects.filter(first_name="Bruno").delete()
    few, one = _export_queries(client)
    assert one == 2
    add_contacts(account, rep, 60)
    many, rows = _export_queries(client)
    assert rows == 62
    assert many == few
