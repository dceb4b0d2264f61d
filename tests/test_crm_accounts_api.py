"""crm's REST API for accounts: happy paths, 400 that names the field and saves nothing, mass
assignment, 403 for the wrong role and side effects (reliability.md 1-5, 8, 9, 15-19)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from crm import services
from crm.models import (
    Account,
    AccountTeamMember,
    Activity,
    OwnershipChange,
)
from flows import actions as flows
from tests.scenarios import API, _ids, _results, api_for

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
