"""crm's REST API for an account's contacts and activities (reliability.md 1-5, 8, 9)."""

from __future__ import annotations

import pytest

from crm import services
from crm.models import (
    Activity,
    Contact,
)
from tests.scenarios import API, _ids, _results, api_for

# --- Contacts -------------------------------------------------------------------------------


def test_contacts_list_shows_visible_accounts_only_and_filters_by_account(account, other_account, rep, salesmgr):
    assert _ids(api_for(rep).get(f"{API}/contacts/")) == set(account.contacts.values_list("pk", flat=True))
    assert _ids(api_for(salesmgr).get(f"{API}/contacts/", {"account": other_account.pk})) == set(
        other_account.contacts.values_list("pk", flat=True)
    )
    assert _ids(api_for(rep).get(f"{API}/contacts/", {"account": other_account.pk})) == set()


def test_adding_a_contact_writes_an_event(account, rep):
    payload = {"account": account.pk, "first_name": "Chloe", "email": "chloe@acme.example", "role": "billing",
               "preferred_channel": "phone", "best_time": "Mornings"}
    response = api_for(rep).post(f"{API}/contacts/", payload, format="json")
    assert response.status_code == 201, response.content
    assert Contact.objects.get(pk=response.json()["id"]).preferred_channel == "phone"
    assert Activity.objects.filter(account=account, event_type="contact.added").count() == 3


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"first_name": "Chloe", "email": "not-an-email"}, "email"),
        ({"first_name": "x" * 101}, "first_name"),
        ({"first_name": "Chloe", "role": "ceo"}, "role"),
        ({"first_name": "Chloe", "preferred_channel": "pigeon"}, "preferred_channel"),
        ({"first_name": "Chloe", "is_active": False, "is_primary": True}, "is_primary"),
        ({"email": "c@acme.example"}, "first_name"),
    ],
)
def test_bad_contact_input_answers_400_naming_the_field_and_saves_nothing(account, rep, payload, field):
    before = Contact.objects.count()
    response = api_for(rep).post(f"{API}/contacts/", {"account": account.pk, **payload}, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert Contact.objects.count() == before


def test_a_contact_cannot_be_added_to_another_reps_account(other_account, rep):
    before = Contact.objects.count()
    response = api_for(rep).post(f"{API}/contacts/", {"account": other_account.pk, "first_name": "Eve"}, format="json")
    assert response.status_code == 400 and "account" in response.json()
    # The same answer as for an account that does not exist: nothing leaks.
    missing = api_for(rep).post(f"{API}/contacts/", {"account": 999999, "first_name": "Eve"}, format="json")
    assert response.json()["account"][0].replace(str(other_account.pk), "N") == missing.json()["account"][0].replace("999999", "N")
    assert Contact.objects.count() == before


def test_a_contact_who_leaves_is_kept_with_a_date(account, rep):
    contact = account.contacts.get(first_name="Bruno")
    response = api_for(rep).patch(f"{API}/contacts/{contact.pk}/", {"is_active": False}, format="json")
    assert response.status_code == 200, response.content
    contact.refresh_from_db()
    assert not contact.is_active and contact.left_at is not None


def test_a_contact_never_moves_to_another_account(account, other_account, salesmgr):
    contact = account.contacts.first()
    response = api_for(salesmgr).patch(f"{API}/contacts/{contact.pk}/", {"account": other_account.pk}, format="json")
    assert response.status_code == 200
    assert Contact.objects.get(pk=contact.pk).account_id == account.pk


def test_contacts_cannot_be_deleted(account, rep):
    assert api_for(rep).delete(f"{API}/contacts/{account.contacts.first().pk}/").status_code == 405


# --- Activities -----------------------------------------------------------------------------


def test_logging_a_call(account, deal, rep):
    payload = {"account": account.pk, "deal": deal.pk, "kind": "call", "subject": "Checked in", "body": "All good"}
    response = api_for(rep).post(f"{API}/activities/", payload, format="json")
    assert response.status_code == 201, response.content
    activity = Activity.objects.get(pk=response.json()["id"])
    assert (activity.kind, activity.actor, activity.deal) == ("call", rep, deal)


def test_a_delivery_manager_may_log_on_any_account(account, deliverymgr):
    response = api_for(deliverymgr).post(
        f"{API}/activities/", {"account": account.pk, "kind": "note", "subject": "Looked"}, format="json",
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"kind": "event", "subject": "Fake"}, "kind"),
        ({"kind": "call", "subject": "s" * 201}, "subject"),
        ({"kind": "call", "subject": ""}, "subject"),
        ({"kind": "call", "subject": "Later", "occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at"),
        ({"kind": "call", "subject": "Long ago", "occurred_at": "1999-01-01T00:00:00Z"}, "occurred_at"),
        ({"kind": "call", "subject": "Bad date", "occurred_at": "yesterday"}, "occurred_at"),
        ("other_deal", "deal"),
    ],
)
def test_bad_activity_input_answers_400_naming_the_field_and_saves_nothing(account, other_deal, rep, payload, field):
    if payload == "other_deal":
        payload = {"kind": "call", "subject": "x", "deal": other_deal.pk}
    before = Activity.objects.count()
    response = api_for(rep).post(f"{API}/activities/", {"account": account.pk, **payload}, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert Activity.objects.count() == before


def test_a_deal_from_another_account_is_refused(account, rep, salesmgr, other_deal):
    before = Activity.objects.count()
    response = api_for(salesmgr).post(
        f"{API}/activities/", {"account": account.pk, "deal": other_deal.pk, "kind": "note", "subject": "x"}, format="json",
    )
    assert response.status_code == 400 and "deal" in response.json()
    assert Activity.objects.count() == before


def test_activities_filter_by_account_and_kind(account, other_account, rep, salesmgr):
    services.activity_log(account=account, by=rep, kind="meeting", subject="Workshop")
    rows = _results(api_for(salesmgr).get(f"{API}/activities/", {"account": account.pk, "kind": "meeting"}))
    assert [r["subject"] for r in rows] == ["Workshop"]
    assert all(r["account"] == account.pk for r in _results(api_for(rep).get(f"{API}/activities/")))


def test_activities_are_read_only_once_logged(account, rep):
    activity = services.activity_log(account=account, by=rep, kind="note", subject="Original")
    client = api_for(rep)
    assert client.patch(f"{API}/activities/{activity.pk}/", {"subject": "Changed"}, format="json").status_code == 405
    assert client.delete(f"{API}/activities/{activity.pk}/").status_code == 405
    assert Activity.objects.get(pk=activity.pk).subject == "Original"
