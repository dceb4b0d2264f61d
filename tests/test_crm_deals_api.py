"""crm's REST API for deals: line items, stages, 409 on illegal transitions, winning and losing
(reliability.md 1-5, 8, 9, 15-19)."""

from __future__ import annotations

import pytest

from crm import services
from crm.models import (
    Account,
    Activity,
    Deal,
    DealLineItem,
)
from flows import actions as flows
from tests.scenarios import API, _ids, api_for

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
