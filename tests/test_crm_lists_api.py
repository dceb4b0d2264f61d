"""The contacts and deals lists' filters and sorting in the API (/api/v1/contacts/,
/api/v1/deals/): the same filters as the pages, documented, archived rows left out by default,
a bad value answering 400 naming the parameter."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from crm import services
from crm.models import Account, Contact, Deal
from tests.scenarios import api_for

pytestmark = pytest.mark.django_db


def names(response: Any, key: str = "name") -> list[str]:
    assert response.status_code == 200, response.content
    return [row[key] for row in response.json()["results"]]


def first_names(response: Any) -> list[str]:
    return names(response, "first_name")


def test_contacts_filter_like_the_page(salesmgr: User, rep: User, rep2: User, account: Account, other_account: Account) -> None:
    bruno = account.contacts.get(first_name="Bruno")
    services.contact_update(contact=bruno, by=rep, phone="+44 20 7946 0000", do_not_contact=True)
    client = api_for(salesmgr)
    assert first_names(client.get("/api/v1/contacts/", {"q": "7946"})) == ["Bruno"]
    assert first_names(client.get("/api/v1/contacts/", {"q": "greta@"})) == ["Greta"]
    assert first_names(client.get("/api/v1/contacts/", {"role": "decision_maker"})) == ["Alice"]
    assert first_names(client.get("/api/v1/contacts/", {"owner": rep2.pk})) == ["Greta"]
    assert first_names(client.get("/api/v1/contacts/", {"do_not_contact": "true"})) == ["Bruno"]
    assert first_names(client.get("/api/v1/contacts/", {"mine": "true"})) == []
    assert first_names(api_for(rep).get("/api/v1/contacts/", {"mine": "true", "ordering": "-last_name"})) == ["Bruno", "Alice"]
    assert first_names(client.get("/api/v1/contacts/", {"ordering": "email"})) == ["Alice", "Bruno", "Greta"]


def test_contacts_filters_never_reveal_another_reps(rep: User, rep2: User, other_account: Account, account: Account) -> None:
    assert first_names(api_for(rep).get("/api/v1/contacts/", {"q": "greta"})) == []
    assert first_names(api_for(rep).get("/api/v1/contacts/", {"owner": rep2.pk})) == []


def test_archived_contacts_are_left_out_unless_asked(salesmgr: User, account: Account, other_account: Account) -> None:
    Contact.objects.filter(first_name="Alice").update(archived_at=timezone.now())
    Account.objects.filter(pk=other_account.pk).update(archived_at=timezone.now())
    client = api_for(salesmgr)
    assert first_names(client.get("/api/v1/contacts/")) == ["Bruno"]
    assert sorted(first_names(client.get("/api/v1/contacts/", {"archived": "true"}))) == ["Alice", "Bruno", "Greta"]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/contacts/", {"role": "boss"}, "role"),
        ("/api/v1/contacts/", {"do_not_contact": "perhaps"}, "do_not_contact"),
        ("/api/v1/contacts/", {"owner": "x"}, "owner"),
        ("/api/v1/contacts/", {"archived": "sometimes"}, "archived"),
        ("/api/v1/deals/", {"stage": "sold"}, "stage"),
        ("/api/v1/deals/", {"status": "maybe"}, "status"),
        ("/api/v1/deals/", {"close_from": "yesterday"}, "close_from"),
        ("/api/v1/deals/", {"close_to": "2027-02-30"}, "close_to"),
        ("/api/v1/deals/", {"amount_min": "lots"}, "amount_min"),
        ("/api/v1/deals/", {"amount_max": "-3"}, "amount_max"),
        ("/api/v1/deals/", {"mine": "often"}, "mine"),
        ("/api/v1/deals/", {"q": "a\x00b"}, "q"),
        ("/api/v1/contacts/", {"q": "\x1b[31m"}, "q"),
        ("/api/v1/contacts/", {"q": "x" * 101}, "q"),
    ],
)
def test_a_bad_filter_value_is_400_naming_it(rep: User, path: str, params: dict[str, str], field: str) -> None:
    response = api_for(rep).get(path, params)
    assert response.status_code == 400
    assert field in response.json(), response.json()


def test_deals_filter_like_the_page(salesmgr: User, rep: User, rep2: User, deal: Deal, other_deal: Deal, account: Account) -> None:
    soon = services.deal_create(account=account, by=rep, name="Soon", value="700", expected_close_date=date(2027, 1, 10))
    services.deal_move(deal=soon, by=rep, to="negotiation")
    lost = services.deal_create(account=account, by=rep, name="Gone", value="50")
    services.deal_lose(deal=lost, by=rep, reason="Budget")
    client = api_for(salesmgr)
    assert names(client.get("/api/v1/deals/", {"q": "globex"})) == ["Globex renewal"]
    assert sorted(names(client.get("/api/v1/deals/", {"stage": ["negotiation", "lost"]}))) == ["Gone", "Soon"]
    assert names(client.get("/api/v1/deals/", {"status": "lost"})) == ["Gone"]
    assert sorted(names(client.get("/api/v1/deals/", {"status": "open"}))) == ["Acme line 2", "Globex renewal", "Soon"]
    assert names(client.get("/api/v1/deals/", {"close_from": "2027-01-01", "close_to": "2027-01-31"})) == ["Soon"]
    assert names(client.get("/api/v1/deals/", {"amount_min": "1000", "ordering": "-value"})) == ["Acme line 2", "Globex renewal"]
    assert names(client.get("/api/v1/deals/", {"amount_max": "100"})) == ["Gone"]
    assert names(api_for(rep2).get("/api/v1/deals/", {"mine": "true"})) == ["Globex renewal"]
    assert names(client.get("/api/v1/deals/", {"ordering": "-updated_at"}))[0] == "Gone"
    assert names(client.get("/api/v1/deals/", {"ordering": "stage", "status": "open"}))[0] in {"Acme line 2", "Globex renewal"}


def test_deals_of_archived_accounts_are_left_out_unless_asked(salesmgr: User, deal: Deal, other_deal: Deal, other_account: Account) -> None:
    Account.objects.filter(pk=other_account.pk).update(archived_at=timezone.now())
    client = api_for(salesmgr)
    assert names(client.get("/api/v1/deals/")) == ["Acme line 2"]
    assert len(names(client.get("/api/v1/deals/", {"archived": "true"}))) == 2


def test_the_schema_documents_the_filters_and_orderings(rep: User) -> None:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)

    def parameters(path: str) -> dict[str, Any]:
        return {p["name"]: p for p in schema["paths"][path]["get"]["parameters"]}

    contacts = parameters("/api/v1/contacts/")
    assert {"q", "role", "owner", "mine", "is_active", "do_not_contact", "archived", "ordering"} <= set(contacts)
    deals = parameters("/api/v1/deals/")
    assert {"q", "stage", "status", "owner", "mine", "close_from", "close_to", "amount_min", "amount_max",
            "archived", "ordering"} <= set(deals)
    assert deals["stage"]["schema"]["type"] == "array"
