"""crm's REST API: happy paths, 404 for what a user cannot see, 403 for the wrong role, 400 that
names the field and saves nothing, mass assignment, 409 on illegal transitions, token auth with
login throttling, side effects, and query budgets (reliability.md 1-5, 8, 9, 15-19, 29)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from crm import services
from crm.models import (
    Account,
    AccountTeamMember,
    Activity,
    Contact,
    Deal,
    DealLineItem,
    OwnershipChange,
    UserProfile,
)
from flows import actions as flows
from tests.scenarios import api_for, make_user

API = "/api/v1"


def _results(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def _ids(response: Any) -> set[int]:
    return {row["id"] for row in _results(response)}


# --- Accounts -------------------------------------------------------------------------------


def test_the_accounts_list_shows_only_the_reps_own_accounts(account, other_account, rep):
    assert _ids(api_for(rep).get(f"{API}/accounts/")) == {account.pk}


def test_a_sales_manager_sees_every_account(account, other_account, salesmgr):
    assert _ids(api_for(salesmgr).get(f"{API}/accounts/")) == {account.pk, other_account.pk}


def test_the_accounts_list_count_never_includes_hidden_accounts(account, other_account, rep):
    response = api_for(rep).get(f"{API}/accounts/", {"search": "Globex"})
    assert response.json()["count"] == 0


def test_accounts_search_and_filters(account, other_account, rep, rep2, salesmgr):
    client = api_for(salesmgr)
    assert _ids(client.get(f"{API}/accounts/", {"search": "lyon"})) == {account.pk}
    assert _ids(client.get(f"{API}/accounts/", {"owner": rep2.pk})) == {other_account.pk}
    assert _ids(client.get(f"{API}/accounts/", {"lifecycle": "prospect"})) == {account.pk, other_account.pk}
    assert _ids(client.get(f"{API}/accounts/", {"lifecycle": "churned"})) == set()
    # Globex has one contact and one vendor person; Acme has two of each.
    assert _ids(client.get(f"{API}/accounts/", {"single_threaded": "true"})) == {other_account.pk}
    assert _ids(client.get(f"{API}/accounts/", {"single_threaded": "false"})) == {account.pk}
    assert _ids(api_for(rep).get(f"{API}/accounts/", {"mine": "true"})) == {account.pk}
    assert _ids(client.get(f"{API}/accounts/", {"mine": "true"})) == set()


def test_an_unknown_lifecycle_filter_answers_400_naming_it(salesmgr):
    response = api_for(salesmgr).get(f"{API}/accounts/", {"lifecycle": "bogus"})
    assert response.status_code == 400
    assert "lifecycle" in response.json()


def test_a_page_past_the_end_answers_404(account, rep):
    assert api_for(rep).get(f"{API}/accounts/", {"page": 9}).status_code == 404


def test_creating_an_account_writes_owner_team_ledger_and_event(rep):
    response = api_for(rep).post(f"{API}/accounts/", {"name": "Initech", "lifecycle": "prospect"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    account = Account.objects.get(pk=body["id"])
    assert body["owner"] == rep.pk and account.owner == rep
    assert AccountTeamMember.objects.current().filter(account=account, user=rep, role="owner").exists()
    assert OwnershipChange.objects.filter(account=account, reason="new", to_user=rep).count() == 1
    assert Activity.objects.filter(account=account, event_type="account.created").exists()


def test_a_delivery_team_member_cannot_create_accounts(delivery):
    response = api_for(delivery).post(f"{API}/accounts/", {"name": "Nope"}, format="json")
    assert response.status_code == 403
    assert not Account.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "x" * 201}, "name"),
        ({"name": ""}, "name"),
        ({}, "name"),
        ({"name": "Ok", "lifecycle": "bogus"}, "lifecycle"),
        ({"name": "Ok", "website": "not a url"}, "website"),
        ({"name": "Ok", "notes": "n" * 5001}, "notes"),
        ({"name": "Ok", "owner": 999999}, "owner"),
        ({"name": "Ok\x00"}, "name"),
    ],
)
def test_bad_account_input_answers_400_naming_the_field_and_saves_nothing(rep, payload, field):
    response = api_for(rep).post(f"{API}/accounts/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Account.objects.exists()


def test_an_unknown_choice_says_which_value_is_wrong(rep):
    response = api_for(rep).post(f"{API}/accounts/", {"name": "Ok", "lifecycle": "bogus"}, format="json")
    assert "not a valid choice" in response.json()["lifecycle"][0]


def test_an_owner_without_a_role_is_refused_by_the_service(rep):
    nobody = User.objects.create_user("norole", password="x")
    response = api_for(rep).post(f"{API}/accounts/", {"name": "Ok", "owner": nobody.pk}, format="json")
    assert response.status_code == 400 and "owner" in response.json()
    assert not Account.objects.exists()


def test_updating_an_account_writes_an_event(account, rep):
    response = api_for(rep).patch(f"{API}/accounts/{account.pk}/", {"city": "Paris"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["city"] == "Paris"
    assert Activity.objects.filter(account=account, event_type="account.updated").exists()


def test_a_full_update_needs_the_name(account, rep):
    response = api_for(rep).put(f"{API}/accounts/{account.pk}/", {"city": "Paris"}, format="json")
    assert response.status_code == 400 and "name" in response.json()
    account.refresh_from_db()
    assert account.city == "Lyon"


def test_an_account_owner_cannot_be_written_through_update(account, rep, rep2):
    response = api_for(rep).patch(
        f"{API}/accounts/{account.pk}/", {"owner": rep2.pk, "created_at": "2001-01-01T00:00:00Z"}, format="json",
    )
    assert response.status_code == 200
    account.refresh_from_db()
    assert account.owner == rep and account.created_at.year != 2001
    assert OwnershipChange.objects.filter(account=account).count() == 1


def test_accounts_cannot_be_deleted(account, salesmgr):
    assert api_for(salesmgr).delete(f"{API}/accounts/{account.pk}/").status_code == 405
    assert Account.objects.filter(pk=account.pk).exists()


def test_the_timeline_is_paginated_newest_first(account, deal, rep):
    services.activity_log(account=account, by=rep, kind="call", subject="Kick-off call")
    response = api_for(rep).get(f"{API}/accounts/{account.pk}/timeline/", {"page_size": 2})
    body = response.json()
    assert body["count"] == Activity.objects.filter(account=account).count()
    assert len(body["results"]) == 2 and body["next"]
    assert body["results"][0]["subject"] == "Kick-off call"


def test_the_ownership_ledger_lists_every_change(account, rep, rep2, salesmgr):
    flows.account_reassign(account=account, to_user=rep2, by=salesmgr, note="Territory split")
    rows = _results(api_for(salesmgr).get(f"{API}/accounts/{account.pk}/ownership/"))
    assert [(r["from_user"], r["to_user"], r["reason"]) for r in rows] == [
        (rep.pk, rep2.pk, "reassignment"), (None, rep.pk, "new"),
    ]
    assert rows[0]["note"] == "Territory split"


def test_the_team_lists_current_and_past_members(account, rep, rep2, presales, salesmgr):
    flows.account_reassign(account=account, to_user=rep2, by=salesmgr)
    rows = _results(api_for(salesmgr).get(f"{API}/accounts/{account.pk}/team/"))
    current = {(r["user"], r["role"]) for r in rows if r["is_current"]}
    past = {(r["user"], r["role"]) for r in rows if not r["is_current"]}
    assert current == {(rep2.pk, "owner"), (presales.pk, "presales")}
    assert past == {(rep.pk, "owner")}


def test_the_owner_adds_a_team_member(account, rep, delivery):
    response = api_for(rep).post(
        f"{API}/accounts/{account.pk}/team/", {"user": delivery.pk, "role": "support"}, format="json",
    )
    assert response.status_code == 201, response.content
    assert AccountTeamMember.objects.current().filter(account=account, user=delivery, role="support").exists()
    assert Activity.objects.filter(account=account, event_type="account.team_changed").exists()


def test_a_team_member_who_is_not_the_owner_cannot_change_the_team(account, presales, delivery):
    response = api_for(presales).post(
        f"{API}/accounts/{account.pk}/team/", {"user": delivery.pk, "role": "support"}, format="json",
    )
    assert response.status_code == 403
    assert not AccountTeamMember.objects.filter(user=delivery).exists()


def test_the_owner_role_cannot_be_added_to_a_team(account, rep, rep2):
    response = api_for(rep).post(f"{API}/accounts/{account.pk}/team/", {"user": rep2.pk, "role": "owner"}, format="json")
    assert response.status_code == 400 and "role" in response.json()
    assert not AccountTeamMember.objects.filter(user=rep2, account=account).exists()


def test_reassigning_an_account_writes_the_ledger_moves_open_deals_and_emails(
    account, deal, rep, rep2, salesmgr, mailoutbox, django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_for(salesmgr).post(
            f"{API}/accounts/{account.pk}/reassign/",
            {"to_user": rep2.pk, "reason": "territory", "note": "Alice prefers mornings"}, format="json",
        )
    assert response.status_code == 200, response.content
    assert response.json()["from_user"] == rep.pk and response.json()["to_user"] == rep2.pk
    account.refresh_from_db()
    deal.refresh_from_db()
    assert account.owner == rep2 and deal.owner == rep2
    assert OwnershipChange.objects.filter(account=account, reason="territory", assigned_by=salesmgr).count() == 1
    assert Activity.objects.filter(account=account, event_type="account.owner_changed").count() == 2
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [rep2.email]
    assert "Alice prefers mornings" in mailoutbox[0].body


def test_a_rep_cannot_reassign_their_account(account, rep, rep2):
    response = api_for(rep).post(f"{API}/accounts/{account.pk}/reassign/", {"to_user": rep2.pk}, format="json")
    assert response.status_code == 403
    assert Account.objects.get(pk=account.pk).owner == rep


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"to_user": 999999}, "to_user"), ({}, "to_user"), ("reason", "reason"), ("self", "to_user")],
)
def test_bad_reassignment_input_answers_400_and_writes_nothing(account, rep, rep2, salesmgr, payload, field):
    if payload == "reason":
        payload = {"to_user": rep2.pk, "reason": "new"}
    elif payload == "self":
        payload = {"to_user": rep.pk}  # already the owner
    response = api_for(salesmgr).post(f"{API}/accounts/{account.pk}/reassign/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert OwnershipChange.objects.filter(account=account).count() == 1


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


# --- Deals ----------------------------------------------------------------------------------


def test_a_deal_reads_with_its_line_items(deal, rep):
    body = api_for(rep).get(f"{API}/deals/{deal.pk}/").json()
    assert body["stage"] == "lead" and body["value"] == "48000.00"
    assert [(i["kind"], i["name"], i["total"]) for i in body["line_items"]] == [
        ("product", "Robot arm", "40000.0000"), ("service", "Installation", "8000.0000"),
    ]


def test_opening_a_deal_with_line_items(account, rep):
    payload = {
        "account": account.pk, "name": "Spare parts", "value": "1200.50", "currency": "EUR",
        "line_items": [{"kind": "product", "name": "Gripper", "quantity": "3", "unit_price": "400.00"}],
    }
    response = api_for(rep).post(f"{API}/deals/", payload, format="json")
    assert response.status_code == 201, response.content
    deal = Deal.objects.get(pk=response.json()["id"])
    assert (deal.stage, deal.owner, deal.line_items.get().name) == ("lead", rep, "Gripper")
    assert Activity.objects.filter(deal=deal, event_type="deal.created").exists()


def test_a_rep_cannot_open_a_deal_for_someone_else(account, rep, presales):
    response = api_for(rep).post(f"{API}/deals/", {"account": account.pk, "name": "X", "owner": presales.pk}, format="json")
    assert response.status_code == 403
    assert "owner" in response.json()["detail"]
    assert not Deal.objects.exists()
    # Naming themselves is fine.
    response = api_for(rep).post(f"{API}/deals/", {"account": account.pk, "name": "X", "owner": rep.pk}, format="json")
    assert response.status_code == 201 and Deal.objects.get().owner == rep


@pytest.mark.parametrize("who", ["outsider", "deliverymgr"])
def test_a_deal_owner_must_be_able_to_work_the_account(request, account, salesmgr, who):
    owner = request.getfixturevalue(who)
    response = api_for(salesmgr).post(f"{API}/deals/", {"account": account.pk, "name": "X", "owner": owner.pk}, format="json")
    assert response.status_code == 400
    assert "owner" in response.json()
    assert not Deal.objects.exists()


def test_a_sales_manager_opens_a_deal_for_someone_on_the_sales_team(account, salesmgr, presales):
    response = api_for(salesmgr).post(
        f"{API}/deals/", {"account": account.pk, "name": "X", "owner": presales.pk}, format="json",
    )
    assert response.status_code == 201
    assert Deal.objects.get().owner == presales


def test_writing_line_items_replaces_them(deal, rep):
    response = api_for(rep).patch(
        f"{API}/deals/{deal.pk}/", {"line_items": [{"kind": "service", "name": "Training", "quantity": 1, "unit_price": 900}]},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert list(DealLineItem.objects.filter(deal=deal).values_list("name", flat=True)) == ["Training"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "x" * 201}, "name"),
        ({"name": "Ok", "value": "-1"}, "value"),
        ({"name": "Ok", "value": "abc"}, "value"),
        ({"name": "Ok", "currency": "euro"}, "currency"),
        ({"name": "Ok", "expected_close_date": "31/12/2026"}, "expected_close_date"),
        ({"name": "Ok", "line_items": [{"name": "A", "quantity": "0"}]}, "line_items"),
        ({"name": "Ok", "line_items": [{"name": "A", "kind": "subscription"}]}, "line_items"),
        ({"name": "Ok", "line_items": "many"}, "line_items"),
    ],
)
def test_bad_deal_input_answers_400_naming_the_field_and_saves_nothing(account, rep, payload, field):
    response = api_for(rep).post(f"{API}/deals/", {"account": account.pk, **payload}, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Deal.objects.exists() and not DealLineItem.objects.exists()


def test_deal_state_cannot_be_mass_assigned(deal, rep, rep2):
    response = api_for(rep).patch(
        f"{API}/deals/{deal.pk}/",
        {"stage": "won", "owner": rep2.pk, "sold_by": rep2.pk, "closed_at": "2026-01-01T00:00:00Z",
         "lost_reason": "x", "account": 999},
        format="json",
    )
    assert response.status_code == 200
    deal.refresh_from_db()
    assert (deal.stage, deal.owner, deal.sold_by, deal.closed_at, deal.lost_reason) == ("lead", rep, None, None, "")
    assert not Activity.objects.filter(deal=deal, event_type="deal.updated").exists()


def test_a_deal_cannot_be_created_in_a_closed_stage(account, rep):
    response = api_for(rep).post(f"{API}/deals/", {"account": account.pk, "name": "Ok", "stage": "won"}, format="json")
    assert response.status_code == 201
    assert Deal.objects.get(pk=response.json()["id"]).stage == "lead"


def test_moving_a_deal_writes_an_event(deal, rep):
    response = api_for(rep).post(f"{API}/deals/{deal.pk}/move/", {"stage": "proposal"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["stage"] == "proposal"
    assert Activity.objects.filter(deal=deal, event_type="deal.moved").count() == 1


def test_moving_to_an_unknown_stage_answers_400(deal, rep):
    response = api_for(rep).post(f"{API}/deals/{deal.pk}/move/", {"stage": "signed"}, format="json")
    assert response.status_code == 400 and "stage" in response.json()
    assert Deal.objects.get(pk=deal.pk).stage == "lead"


def test_a_deal_is_not_won_by_moving_it(deal, rep):
    response = api_for(rep).post(f"{API}/deals/{deal.pk}/move/", {"stage": "won"}, format="json")
    assert response.status_code == 409
    assert Deal.objects.get(pk=deal.pk).stage == "lead"


def test_winning_a_deal_freezes_who_sold_it(deal, rep, salesmgr):
    response = api_for(salesmgr).post(f"{API}/deals/{deal.pk}/win/")
    assert response.status_code == 200, response.content
    deal.refresh_from_db()
    assert deal.stage == "won" and deal.sold_by == rep and deal.closed_at is not None
    assert response.json()["sold_by"] == rep.pk
    assert Activity.objects.filter(deal=deal, event_type="deal.won").count() == 1
    assert Account.objects.get(pk=deal.account_id).lifecycle == "customer"


def test_losing_a_deal_needs_a_reason(deal, rep):
    response = api_for(rep).post(f"{API}/deals/{deal.pk}/lose/", {}, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    response = api_for(rep).post(f"{API}/deals/{deal.pk}/lose/", {"reason": "r" * 2001}, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    assert Deal.objects.get(pk=deal.pk).stage == "lead"
    response = api_for(rep).post(f"{API}/deals/{deal.pk}/lose/", {"reason": "Budget cut"}, format="json")
    assert response.status_code == 200
    assert Deal.objects.get(pk=deal.pk).lost_reason == "Budget cut"


def test_winning_a_lost_deal_answers_409_and_changes_nothing(deal, rep):
    services.deal_lose(deal=deal, by=rep, reason="Budget cut")
    events = Activity.objects.filter(deal=deal).count()
    response = api_for(rep).post(f"{API}/deals/{deal.pk}/win/")
    assert response.status_code == 409
    assert "detail" in response.json()
    deal.refresh_from_db()
    assert deal.stage == "lost" and deal.sold_by is None
    assert Activity.objects.filter(deal=deal).count() == events


@pytest.mark.parametrize("action", ["win", "lose", "move"])
def test_a_won_deal_cannot_change_stage_again(deal, rep, action):
    flows.deal_win(deal=deal, by=rep)
    body = {"lose": {"reason": "Oops"}, "move": {"stage": "lead"}, "win": {}}[action]
    response = api_for(rep).post(f"{API}/deals/{deal.pk}/{action}/", body, format="json")
    assert response.status_code == 409
    assert Deal.objects.get(pk=deal.pk).stage == "won"


def test_a_closed_deal_cannot_be_edited(deal, rep):
    flows.deal_win(deal=deal, by=rep)
    response = api_for(rep).patch(f"{API}/deals/{deal.pk}/", {"name": "Renamed"}, format="json")
    assert response.status_code == 409
    assert Deal.objects.get(pk=deal.pk).name == "Acme line 2"


def test_a_delivery_manager_sees_deals_but_cannot_work_them(deal, deliverymgr):
    client = api_for(deliverymgr)
    assert client.get(f"{API}/deals/{deal.pk}/").status_code == 200
    assert client.post(f"{API}/deals/{deal.pk}/win/").status_code == 403
    assert client.patch(f"{API}/deals/{deal.pk}/", {"name": "x"}, format="json").status_code == 403
    assert client.post(f"{API}/deals/", {"account": deal.account_id, "name": "x"}, format="json").status_code == 403
    assert Deal.objects.get(pk=deal.pk).stage == "lead" and Deal.objects.count() == 1


def test_deals_filter_by_account_stage_and_owner(deal, other_deal, rep, rep2, salesmgr):
    client = api_for(salesmgr)
    assert _ids(client.get(f"{API}/deals/", {"account": deal.account_id})) == {deal.pk}
    assert _ids(client.get(f"{API}/deals/", {"owner": rep2.pk})) == {other_deal.pk}
    assert _ids(client.get(f"{API}/deals/", {"stage": "won"})) == set()
    assert _ids(api_for(rep).get(f"{API}/deals/")) == {deal.pk}


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


# --- Book reassignment ----------------------------------------------------------------------


@pytest.fixture
def rep_book(account: Account, deal: Deal, rep: User) -> list[Account]:
    second = services.account_create(by=rep, name="Bolt Mobility")
    services.deal_create(account=second, by=rep, name="Fleet pilot")
    return [account, second]


def test_a_book_preview_writes_nothing(rep_book, rep, rep2, salesmgr, django_capture_on_commit_callbacks):
    ledger, events = OwnershipChange.objects.count(), Activity.objects.count()
    with django_capture_on_commit_callbacks() as callbacks:
        response = api_for(salesmgr).post(
            f"{API}/reassignments/", {"from_user": rep.pk, "to_user": rep2.pk, "preview": True}, format="json",
        )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["applied"] is False and body["account_count"] == 2
    assert {(r["account"], r["from_user"], r["to_user"]) for r in body["rows"]} == {
        (a.pk, rep.pk, rep2.pk) for a in rep_book
    }
    assert sum(r["open_deals"] for r in body["rows"]) == 2
    assert (OwnershipChange.objects.count(), Activity.objects.count()) == (ledger, events)
    assert Account.objects.filter(owner=rep).count() == 2 and callbacks == []


def test_a_book_reassignment_moves_every_account_with_exceptions(
    rep_book, rep, rep2, outsider, salesmgr, mailoutbox, django_capture_on_commit_callbacks,
):
    first, second = rep_book
    payload = {"from_user": rep.pk, "to_user": rep2.pk, "reason": "departure", "note": "Rep left",
               "assignments": [{"account": second.pk, "to_user": outsider.pk}]}
    with django_capture_on_commit_callbacks(execute=True):
        response = api_for(salesmgr).post(f"{API}/reassignments/", payload, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["applied"] is True
    assert Account.objects.get(pk=first.pk).owner == rep2 and Account.objects.get(pk=second.pk).owner == outsider
    assert OwnershipChange.objects.filter(reason="departure", from_user=rep).count() == 2
    assert not Deal.objects.open().filter(owner=rep).exists()
    assert sorted(m.to[0] for m in mailoutbox) == sorted([rep2.email, outsider.email])


def test_a_rep_cannot_reassign_a_book(rep_book, rep, rep2):
    response = api_for(rep).post(f"{API}/reassignments/", {"from_user": rep.pk, "to_user": rep2.pk}, format="json")
    assert response.status_code == 403
    assert Account.objects.filter(owner=rep).count() == 2


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"to_user": "rep2"}, "from_user"),
        ({"from_user": "rep"}, "to_user"),
        ({"from_user": "rep", "to_user": "rep"}, "to_user"),
        ({"from_user": "rep", "to_user": "rep2", "reason": "new"}, "reason"),
        ({"from_user": "rep", "to_user": "rep2", "assignments": [{"account": 999999, "to_user": "rep2"}]}, "assignments"),
        ({"from_user": "rep", "to_user": "rep2", "assignments": [{"account": 1}]}, "assignments"),
        ({"from_user": "rep", "to_user": "rep2", "note": "n" * 5001}, "note"),
    ],
)
def test_bad_book_reassignment_input_answers_400_and_writes_nothing(rep_book, rep, rep2, salesmgr, payload, field):
    people = {"rep": rep.pk, "rep2": rep2.pk}

    def resolve(value: Any) -> Any:
        if isinstance(value, list):
            return [{k: people.get(v, v) if k == "to_user" else v for k, v in row.items()} for row in value]
        return people.get(value, value) if isinstance(value, str) else value

    body = {k: (v if k in ("reason", "note") else resolve(v)) for k, v in payload.items()}
    response = api_for(salesmgr).post(f"{API}/reassignments/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert Account.objects.filter(owner=rep).count() == 2


# --- Users, tokens, deactivation ------------------------------------------------------------


def test_any_signed_in_user_lists_active_vendor_people_with_roles(rep, rep2, salesmgr, delivery):
    rep2.is_active = False
    rep2.save()
    User.objects.create_user("norole", password="x")
    rows = _results(api_for(delivery).get(f"{API}/users/"))
    by_name = {r["username"]: r for r in rows}
    assert set(by_name) == {"rep", "salesmgr", "delivery"}
    assert by_name["salesmgr"]["roles"] == ["Sales manager"]


def test_the_users_list_filters_by_role(rep, salesmgr, admin_user):
    rows = _results(api_for(rep).get(f"{API}/users/", {"role": "Sales manager"}))
    assert [r["username"] for r in rows] == ["salesmgr"]


def test_the_api_answers_401_without_credentials(account):
    response = APIClient().get(f"{API}/accounts/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")


def _token(client: APIClient, username: str, password: str, **extra: Any) -> Any:
    return client.post(f"{API}/auth/token/", {"username": username, "password": password}, format="json", **extra)


def test_a_token_authenticates_api_requests(account, rep):
    response = _token(APIClient(), "rep", "keepwarm-test-pw")
    assert response.status_code == 200, response.content
    token = response.json()["token"]
    assert Token.objects.get(user=rep).key == token
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert _ids(client.get(f"{API}/accounts/")) == {account.pk}



def test_a_token_can_be_asked_for_with_a_form_post_as_curl_d_sends_it(rep):
    response = APIClient().post(f"{API}/auth/token/", "username=rep&password=keepwarm-test-pw",
                                content_type="application/x-www-form-urlencoded")

    assert response.status_code == 200, response.content
    assert Token.objects.get(user=rep).key == response.json()["token"]

def test_a_wrong_password_answers_400_without_a_token(rep):
    response = _token(APIClient(), "rep", "wrong")
    assert response.status_code == 400 and "non_field_errors" in response.json()
    assert not Token.objects.exists()
    assert AccessAttempt.objects.get(username="rep").failures_since_start == 1


def test_an_inactive_user_gets_no_token(rep):
    rep.is_active = False
    rep.save()
    assert _token(APIClient(), "rep", "keepwarm-test-pw").status_code == 400


def test_after_repeated_failures_even_the_right_password_answers_429(rep, settings):
    client = APIClient()
    answers = [_token(client, "rep", f"guess-{i}").status_code for i in range(settings.AXES_FAILURE_LIMIT)]
    # The failure that reaches the limit already locks the door.
    assert answers == [400] * (settings.AXES_FAILURE_LIMIT - 1) + [429]
    response = _token(client, "rep", "keepwarm-test-pw")
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()
    assert not Token.objects.exists()


def test_a_spoofed_forwarded_for_header_does_not_reset_the_lockout(rep, settings):
    client = APIClient()
    for i in range(settings.AXES_FAILURE_LIMIT):
        _token(client, "rep", f"guess-{i}", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}")
    response = _token(client, "rep", "keepwarm-test-pw", HTTP_X_FORWARDED_FOR="198.51.100.77")
    assert response.status_code == 429
    assert not Token.objects.exists()
    # Every failure was counted against the real address, not the header's.
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"127.0.0.1"}


def test_one_usernames_lockout_does_not_hold_for_another_username_from_the_same_address(rep, rep2, settings):
    client = APIClient()
    for i in range(settings.AXES_FAILURE_LIMIT):
        _token(client, "rep", f"guess-{i}")
    response = _token(client, "rep", "keepwarm-test-pw")
    assert response.status_code == 429
    assert response.json()["detail"].startswith("Logging in as rep is paused until")
    assert 0 < int(response["Retry-After"]) <= settings.AXES_COOLOFF_TIME.total_seconds()
    assert _token(client, "rep2", "keepwarm-test-pw").status_code == 200


def test_the_address_lockout_holds_for_every_username_from_that_address(rep, rep2, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"token": "1000/min"}}
    client = APIClient()
    for i in range(settings.AXES_ADDRESS_FAILURE_LIMIT):
        _token(client, f"guess{i}", "wrong")
    response = _token(client, "rep2", "keepwarm-test-pw")
    assert response.status_code == 429
    assert "network address is paused" in response.json()["detail"]
    assert response["Retry-After"].isdigit()
    assert not Token.objects.exists()


def test_deactivating_a_user_revokes_their_tokens_and_hands_over_their_book(
    account, deal, rep, rep2, salesmgr, django_capture_on_commit_callbacks,
):
    token = _token(APIClient(), "rep", "keepwarm-test-pw").json()["token"]
    rep_client = APIClient()
    rep_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert rep_client.get(f"{API}/accounts/").status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = api_for(salesmgr).post(
            f"{API}/users/{rep.pk}/deactivate/", {"successor": rep2.pk, "note": "Left the company"}, format="json",
        )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["is_active"] is False and body["reassignment"]["applied"] is True
    assert rep_client.get(f"{API}/accounts/").status_code == 401
    assert not Token.objects.filter(user=rep).exists()
    assert Account.objects.get(pk=account.pk).owner == rep2
    assert OwnershipChange.objects.filter(account=account, reason="departure").count() == 1


def test_deactivating_an_owner_without_a_successor_answers_400(account, rep, salesmgr):
    response = api_for(salesmgr).post(f"{API}/users/{rep.pk}/deactivate/", {}, format="json")
    assert response.status_code == 400 and "successor" in response.json()
    assert User.objects.get(pk=rep.pk).is_active


def test_deactivating_an_inactive_user_answers_409(outsider, salesmgr):
    flows.user_deactivate(user=outsider, by=salesmgr)
    response = api_for(salesmgr).post(f"{API}/users/{outsider.pk}/deactivate/", {}, format="json")
    assert response.status_code == 409


def test_a_rep_cannot_deactivate_anyone(rep, rep2):
    response = api_for(rep).post(f"{API}/users/{rep2.pk}/deactivate/", {}, format="json")
    assert response.status_code == 403
    assert User.objects.get(pk=rep2.pk).is_active


def test_deactivating_an_unknown_user_answers_404(salesmgr):
    assert api_for(salesmgr).post(f"{API}/users/999999/deactivate/", {}, format="json").status_code == 404


# --- Outsiders: 404 for every object kind and every operation (reliability 1) ---------------


def _targets(account: Account, deal: Deal) -> dict[str, int]:
    return {
        "account": account.pk,
        "contact": account.contacts.first().pk,
        "deal": deal.pk,
        "activity": Activity.objects.filter(account=account).first().pk,
    }


OUTSIDER_OPERATIONS = [
    ("get", "/accounts/{account}/", None),
    ("put", "/accounts/{account}/", {"name": "Mine now"}),
    ("patch", "/accounts/{account}/", {"name": "Mine now"}),
    ("get", "/accounts/{account}/timeline/", None),
    ("get", "/accounts/{account}/ownership/", None),
    ("get", "/accounts/{account}/team/", None),
    ("post", "/accounts/{account}/team/", {"user": "me", "role": "sales_rep"}),
    ("post", "/accounts/{account}/reassign/", {"to_user": "me"}),
    ("get", "/contacts/{contact}/", None),
    ("put", "/contacts/{contact}/", {"first_name": "Eve"}),
    ("patch", "/contacts/{contact}/", {"first_name": "Eve"}),
    ("get", "/deals/{deal}/", None),
    ("put", "/deals/{deal}/", {"name": "Mine"}),
    ("patch", "/deals/{deal}/", {"name": "Mine"}),
    ("post", "/deals/{deal}/move/", {"stage": "proposal"}),
    ("post", "/deals/{deal}/win/", None),
    ("post", "/deals/{deal}/lose/", {"reason": "Sabotage"}),
    ("get", "/activities/{activity}/", None),
]


@pytest.mark.parametrize(("method", "template", "body"), OUTSIDER_OPERATIONS)
@pytest.mark.parametrize("persona", ["rep2", "delivery", "outsider"])
def test_another_reps_objects_answer_404_and_stay_unchanged(request, account, deal, persona, method, template, body):
    user = request.getfixturevalue(persona)
    url = API + template.format(**_targets(account, deal))
    if body:
        body = {k: (user.pk if v == "me" else v) for k, v in body.items()}
    before = (Account.objects.get(pk=account.pk).name, Deal.objects.get(pk=deal.pk).stage,
              OwnershipChange.objects.count(), Activity.objects.count(), AccountTeamMember.objects.count())
    response = getattr(api_for(user), method)(url, body, format="json")
    assert response.status_code == 404, (url, response.content)
    assert (Account.objects.get(pk=account.pk).name, Deal.objects.get(pk=deal.pk).stage,
            OwnershipChange.objects.count(), Activity.objects.count(), AccountTeamMember.objects.count()) == before


def test_a_missing_object_and_a_hidden_one_answer_alike(account, rep2):
    hidden = api_for(rep2).get(f"{API}/accounts/{account.pk}/")
    missing = api_for(rep2).get(f"{API}/accounts/999999/")
    junk = api_for(rep2).get(f"{API}/accounts/0.5/")
    assert hidden.status_code == missing.status_code == junk.status_code == 404
    assert hidden.json() == missing.json() == junk.json()


# --- Query budgets --------------------------------------------------------------------------


@pytest.fixture
def big_book(rep: User, presales: User) -> None:
    """65 accounts, each with a contact, a deal with two line items and a logged call."""
    for i in range(65):
        acc = services.account_create(by=rep, name=f"Account {i:03}")
        AccountTeamMember.objects.create(account=acc, user=presales, role=AccountTeamMember.Role.PRESALES)
        services.contact_create(account=acc, by=rep, first_name=f"Person {i}")
        services.deal_create(
            account=acc, by=rep, name=f"Deal {i}",
            line_items=[{"name": "A", "quantity": 1, "unit_price": 1}, {"name": "B", "quantity": 2, "unit_price": 3}],
        )
        services.activity_log(account=acc, by=rep, kind="call", subject=f"Call {i}")


@pytest.mark.parametrize("path", ["accounts", "deals", "contacts", "activities"])
def test_api_lists_take_a_fixed_number_of_queries(big_book, rep, salesmgr, path, django_assert_max_num_queries):
    # The rep sees the book through the team (a subquery); the manager sees everything.
    for user in (rep, salesmgr):
        client = api_for(user)
        with django_assert_max_num_queries(6):
            response = client.get(f"{API}/{path}/", {"page_size": 100})
        assert response.status_code == 200
        assert len(response.json()["results"]) >= 60


def test_the_users_list_takes_a_fixed_number_of_queries(rep, django_assert_max_num_queries):
    for i in range(60):
        make_user(f"person{i}", "Sales rep")
    with django_assert_max_num_queries(6):
        response = api_for(rep).get(f"{API}/users/", {"page_size": 100})
    assert response.json()["count"] == 61


# --- Sessions, schema, code rules -----------------------------------------------------------


def test_session_authenticated_writes_need_the_csrf_token(account, rep):
    client = Client(enforce_csrf_checks=True)
    client.force_login(rep)
    assert client.get(f"{API}/accounts/{account.pk}/").status_code == 200
    response = client.patch(f"{API}/accounts/{account.pk}/", '{"name": "x"}', content_type="application/json")
    assert response.status_code == 403
    assert Account.objects.get(pk=account.pk).name == "Acme Robotics"


def test_the_schema_validates_without_warnings(tmp_path):
    # What CI's `manage.py spectacular --validate --fail-on-warn` checks, kept in the suite.
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    assert "/api/v1/deals/{id}/win/" in target.read_text()


def test_the_schema_and_docs_are_served_without_a_cdn(rep):
    client = Client()
    client.force_login(rep)
    assert client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', docs.content.decode())
    assert assets and all(url.startswith("/static/") for url in assets), assets


def test_the_schema_and_docs_are_refused_to_anonymous_users(db):
    assert Client().get("/api/schema/").status_code in (401, 403)
    docs = Client().get("/api/docs/")
    assert docs.status_code == 302
    assert docs["Location"].startswith("/login/?next=/api/docs/")


def test_the_schema_is_served_to_a_token_holder(rep):
    # What scripts/api_fuzz.sh does: schemathesis fetches the schema with the token header.
    token, _ = Token.objects.get_or_create(user=rep)
    response = Client().get("/api/schema/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200
    assert b"/api/v1/deals/" in response.content


# --- The reporting line (administrators only) ------------------------------------------------


def test_an_administrator_sets_who_a_user_reports_to(rep, salesmgr, admin_user):
    response = api_for(admin_user).put(f"{API}/users/{rep.pk}/manager/", {"manager": salesmgr.pk}, format="json")
    assert response.status_code == 200
    assert response.json() == {"id": rep.pk, "username": "rep", "manager": salesmgr.pk}
    assert UserProfile.objects.get(user=rep).manager == salesmgr
    response = api_for(admin_user).put(f"{API}/users/{rep.pk}/manager/", {"manager": None}, format="json")
    assert response.status_code == 200
    assert UserProfile.objects.get(user=rep).manager is None


@pytest.mark.parametrize("who", ["rep", "salesmgr"])
def test_nobody_else_sets_a_reporting_line(request, rep, rep2, salesmgr, who):
    user = request.getfixturevalue(who)
    response = api_for(user).put(f"{API}/users/{rep.pk}/manager/", {"manager": rep2.pk}, format="json")
    assert response.status_code == 403
    assert UserProfile.objects.get(user=rep).manager is None


def test_a_bad_reporting_line_names_the_field(rep, admin_user):
    for body in ({"manager": rep.pk}, {"manager": 999999}, {}):
        response = api_for(admin_user).put(f"{API}/users/{rep.pk}/manager/", body, format="json")
        assert response.status_code == 400, body
        assert "manager" in response.json(), body
    assert UserProfile.objects.get(user=rep).manager is None


def test_no_serializer_exposes_all_model_fields():
    source = (Path(__file__).resolve().parent.parent / "crm" / "api" / "serializers.py").read_text()
    assert not re.search(r"fields\s*=\s*[\"']__all__[\"']", source)


def test_serializers_never_save_on_their_own(account, rep):
    from crm.api.serializers import AccountSerializer

    serializer = AccountSerializer(account, data={"name": "Bypass"}, partial=True)
    assert serializer.is_valid()
    with pytest.raises(NotImplementedError):
        serializer.save()
    assert Account.objects.get(pk=account.pk).name == "Acme Robotics"
