"""The flows that cross apps (flows/actions.py), and the one writer each of their states has."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from crm import services as crm_services
from crm.models import Account, Activity
from delivery.models import Problem
from flows import actions as flows
from handover.models import Handover, Promise
from tests.scenarios import accept_deal, api_for, client_for


def _lifecycle_moves(account: Any) -> list[tuple[str, str]]:
    rows = Activity.objects.filter(account=account, event_type="account.lifecycle_changed").order_by("pk")
    return [(row.data["from"], row.data["to"]) for row in rows]


def test_winning_through_the_flow_drafts_the_handover_the_crm_service_alone_does_not(deal, other_deal, rep, rep2):
    flows.deal_win(deal=deal, by=rep)
    crm_services.deal_win(deal=other_deal, by=rep2)
    assert Handover.objects.filter(deal=deal).count() == 1
    assert not Handover.objects.filter(deal=other_deal).exists()


def test_each_lifecycle_move_of_the_flows_leaves_its_event(deal, rep, salesmgr, deliverymgr, delivery):
    accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)
    assert Account.objects.get(pk=deal.account_id).lifecycle == "onboarding"
    assert _lifecycle_moves(deal.account_id) == [("prospect", "customer"), ("customer", "onboarding")]


def test_the_account_form_does_not_edit_the_lifecycle(rep, account):
    response = client_for(rep).post(
        f"/accounts/{account.pk}/edit/", {"name": "Acme Robotics SA", "lifecycle": "churned"},
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert (account.name, account.lifecycle) == ("Acme Robotics SA", "prospect")
    assert _lifecycle_moves(account) == []


def test_the_api_does_not_edit_the_lifecycle(rep, account):
    response = api_for(rep).patch(f"/api/v1/accounts/{account.pk}/", {"lifecycle": "churned"}, format="json")
    assert response.status_code == 200 and response.json()["lifecycle"] == "prospect"
    assert Account.objects.get(pk=account.pk).lifecycle == "prospect"


def test_a_lifecycle_set_through_the_service_is_checked_and_recorded(rep, account):
    with pytest.raises(ValidationError) as exc:
        crm_services.account_update(account=account, by=rep, lifecycle="bogus")
    assert "lifecycle" in exc.value.message_dict
    crm_services.account_update(account=account, by=rep, lifecycle="churned")
    assert _lifecycle_moves(account) == [("prospect", "churned")]


def test_deactivating_ends_the_users_access_once(monkeypatch, account, rep, rep2, salesmgr):
    ended: list[int] = []
    real = crm_services.user_end_access
    monkeypatch.setattr(crm_services, "user_end_access", lambda *, user: ended.append(user.pk) or real(user=user))
    flows.user_deactivate(user=rep, by=salesmgr, successor=rep2)
    assert ended == [rep.pk]


@pytest.mark.parametrize("category", Problem.Category.values)
def test_a_problem_breaks_promises_by_the_one_rule_in_handover(category):
    problem = Problem(category=category)
    assert problem.breaks_promises is Promise.broken_by_problem(category)
    assert problem.breaks_promises is (category != "customer_change")
