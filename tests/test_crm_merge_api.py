"""The API's merge and archive actions, and a tombstone's detail answering 301 to its survivor."""

from __future__ import annotations

import pytest

from crm import services
from crm.models import Account, Activity, Contact
from flows import actions as flows
from tests.scenarios import api_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def twin(salesmgr, rep):
    acc = services.account_create(by=salesmgr, name="ACME Robotics SA", owner=rep)
    services.contact_create(account=acc, by=salesmgr, first_name="Dora", email="dora@acme.example")
    return acc


def test_a_manager_merges_an_account(account, twin, salesmgr):
    response = api_for(salesmgr).post(f"/api/v1/accounts/{twin.pk}/merge/", {"into": account.pk}, format="json")
    assert response.status_code == 200 and response.json()["id"] == account.pk
    assert Account.objects.get(pk=twin.pk).merged_into_id == account.pk
    assert Contact.objects.filter(account=account, first_name="Dora").exists()
    assert Activity.objects.filter(account=account, event_type="account.merged").count() == 1


def test_a_tombstones_detail_answers_301_to_the_survivor(account, twin, salesmgr, rep, rep2):
    flows.account_merge(account=twin, into=account, by=salesmgr)
    for user in (salesmgr, rep):
        response = api_for(user).get(f"/api/v1/accounts/{twin.pk}/")
        assert response.status_code == 301
        assert response["Location"] == f"/api/v1/accounts/{account.pk}/"
        assert response.json()["merged_into"] == account.pk
    assert api_for(rep2).get(f"/api/v1/accounts/{twin.pk}/").status_code == 404


def test_tombstones_are_not_listed(account, twin, salesmgr):
    flows.account_merge(account=twin, into=account, by=salesmgr)
    ids = {row["id"] for row in api_for(salesmgr).get("/api/v1/accounts/").json()["results"]}
    assert twin.pk not in ids and account.pk in ids
    ids = {row["id"] for row in api_for(salesmgr).get("/api/v1/accounts/", {"archived": "true"}).json()["results"]}
    assert twin.pk not in ids


@pytest.mark.parametrize(("into", "field"), [("self", "into"), (999999, "into")])
def test_bad_merges_answer_400_and_change_nothing(account, salesmgr, into, field):
    target = account.pk if into == "self" else into
    response = api_for(salesmgr).post(f"/api/v1/accounts/{account.pk}/merge/", {"into": target}, format="json")
    assert response.status_code == 400 and field in response.json()
    assert Account.objects.get(pk=account.pk).merged_into is None


def test_a_merge_into_a_tombstone_answers_400(account, twin, other_account, salesmgr):
    flows.account_merge(account=other_account, into=twin, by=salesmgr)
    response = api_for(salesmgr).post(f"/api/v1/accounts/{account.pk}/merge/", {"into": other_account.pk},
                                      format="json")
    assert response.status_code == 400
    assert "merged into another account" in response.json()["into"][0]


def test_a_merge_of_a_tombstone_answers_409(account, twin, other_account, salesmgr):
    flows.account_merge(account=twin, into=account, by=salesmgr)
    response = api_for(salesmgr).post(f"/api/v1/accounts/{twin.pk}/merge/", {"into": other_account.pk},
                                      format="json")
    assert response.status_code == 409


def test_a_rep_may_not_merge(account, twin, rep):
    response = api_for(rep).post(f"/api/v1/accounts/{twin.pk}/merge/", {"into": account.pk}, format="json")
    assert response.status_code == 403
    assert Account.objects.get(pk=twin.pk).merged_into is None


def test_a_merge_body_without_into_is_refused(account, salesmgr):
    response = api_for(salesmgr).post(f"/api/v1/accounts/{account.pk}/merge/", {}, format="json")
    assert response.status_code == 400 and "into" in response.json()


def test_archive_and_restore_through_the_api(account, rep):
    client = api_for(rep)
    response = client.post(f"/api/v1/accounts/{account.pk}/archive/")
    assert response.status_code == 200 and response.json()["archived_at"]
    assert account.pk not in {r["id"] for r in client.get("/api/v1/accounts/").json()["results"]}
    assert account.pk in {r["id"] for r in client.get("/api/v1/accounts/", {"archived": "true"}).json()["results"]}
    assert client.get(f"/api/v1/accounts/{account.pk}/").status_code == 200  # kept in history
    assert client.post(f"/api/v1/accounts/{account.pk}/archive/").status_code == 409
    response = client.post(f"/api/v1/accounts/{account.pk}/restore/")
    assert response.status_code == 200 and response.json()["archived_at"] is None


def test_a_contact_merge_and_its_tombstone(account, salesmgr):
    alice = account.contacts.get(first_name="Alice")
    twin = services.contact_create(account=account, by=salesmgr, first_name="Alice", last_name="M.")
    client = api_for(salesmgr)
    response = client.post(f"/api/v1/contacts/{twin.pk}/merge/", {"into": alice.pk}, format="json")
    assert response.status_code == 200 and response.json()["id"] == alice.pk
    response = client.get(f"/api/v1/contacts/{twin.pk}/")
    assert response.status_code == 301 and response["Location"] == f"/api/v1/contacts/{alice.pk}/"
    assert twin.pk not in {r["id"] for r in client.get("/api/v1/contacts/").json()["results"]}


def test_a_contact_archived_through_the_api_leaves_the_list(account, rep):
    alice = account.contacts.get(first_name="Alice")
    client = api_for(rep)
    assert client.post(f"/api/v1/contacts/{alice.pk}/archive/").status_code == 200
    assert alice.pk not in {r["id"] for r in client.get("/api/v1/contacts/").json()["results"]}
    assert client.post(f"/api/v1/contacts/{alice.pk}/restore/").status_code == 200
