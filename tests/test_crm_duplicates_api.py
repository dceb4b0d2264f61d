"""The API's duplicates check: creating an account or a contact that resembles another answers
409 with the candidates the caller may see (never the others) unless `confirm_duplicate`."""

from __future__ import annotations

import pytest

from crm import services
from crm.models import Account, Contact
from tests.scenarios import api_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def falcon(rep2):
    return services.account_create(by=rep2, name="Falcon Freight GmbH", website="https://www.falcon.example/about")


def test_a_likely_duplicate_answers_409_with_the_visible_candidates(falcon, salesmgr):
    count = Account.objects.count()
    response = api_for(salesmgr).post("/api/v1/accounts/", {"name": "falcon-freight"}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["candidates"] == [{"id": falcon.pk, "name": "Falcon Freight GmbH",
                                   "url": f"/api/v1/accounts/{falcon.pk}/", "archived": False}]
    assert body["hidden_candidates"] is False
    assert "confirm_duplicate" in body["detail"]
    assert Account.objects.count() == count


def test_confirm_duplicate_creates_it(falcon, salesmgr):
    response = api_for(salesmgr).post("/api/v1/accounts/", {"name": "falcon-freight", "confirm_duplicate": True},
                                      format="json")
    assert response.status_code == 201
    assert "confirm_duplicate" not in response.json()


def test_the_candidates_never_name_an_account_the_caller_may_not_see(falcon, rep):
    response = api_for(rep).post("/api/v1/accounts/", {"name": "Kestrel", "website": "https://falcon.example"}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["candidates"] == [] and body["hidden_candidates"] is True
    assert "Falcon" not in response.content.decode()


def test_the_duplicates_lookup_answers_without_creating(falcon, salesmgr, rep):
    body = api_for(salesmgr).get("/api/v1/accounts/duplicates/", {"website": "http://falcon.example"}).json()
    assert [c["id"] for c in body["candidates"]] == [falcon.pk]
    body = api_for(rep).get("/api/v1/accounts/duplicates/", {"name": "Falcon Freight"}).json()
    assert body == {"candidates": [], "hidden_candidates": True}
    body = api_for(rep).get("/api/v1/accounts/duplicates/").json()
    assert body == {"candidates": [], "hidden_candidates": False}


def test_the_duplicates_lookup_refuses_a_control_character(rep):
    response = api_for(rep).get("/api/v1/accounts/duplicates/", {"name": "Falcon\x00"})
    assert response.status_code == 400 and "name" in response.json()


def test_a_contact_with_an_existing_email_answers_409(account, rep):
    response = api_for(rep).post("/api/v1/contacts/", {"account": account.pk, "first_name": "Ali",
                                                       "email": "ALICE@acme.example"}, format="json")
    assert response.status_code == 409
    alice = account.contacts.get(email="alice@acme.example")
    assert [c["id"] for c in response.json()["candidates"]] == [alice.pk]
    assert not Contact.objects.filter(first_name="Ali").exists()
    response = api_for(rep).post("/api/v1/contacts/", {"account": account.pk, "first_name": "Ali",
                                                       "email": "ALICE@acme.example", "confirm_duplicate": True},
                                 format="json")
    assert response.status_code == 201


def test_a_contact_elsewhere_is_not_named(account, other_account, rep):
    response = api_for(rep).post("/api/v1/contacts/", {"account": account.pk, "first_name": "G",
                                                       "email": "greta@globex.example"}, format="json")
    assert response.status_code == 409
    assert response.json()["candidates"] == [] and response.json()["hidden_candidates"] is True
    assert "Klein" not in response.content.decode()
