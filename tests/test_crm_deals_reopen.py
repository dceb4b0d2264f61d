"""Reopening a deal (flows.deal_reopen): a lost deal goes back to an open stage; a won one too
while its handover is a draft never submitted, which is then discarded. The page's button and
the API's `POST /deals/{id}/reopen/` both go through the flow."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from core.exceptions import Conflict
from crm import services
from crm.models import Account, Activity, Deal, PipelineTotal
from flows import actions as flows
from handover.models import Handover, HandoverContact
from tests.scenarios import API, api_for, client_for, submitted
from tests.scenarios import crm_url as url

pytestmark = pytest.mark.django_db


def _lost(deal: Deal, rep: User) -> Deal:
    return services.deal_lose(deal=deal, by=rep, reason="Chose a competitor")


def _won(deal: Deal, rep: User) -> Deal:
    return flows.deal_win(deal=deal, by=rep)


def _totals() -> dict[str, int]:
    return {t.stage: t.deal_count for t in PipelineTotal.objects.filter(deal_count__gt=0)}


# --- Lost deals ----------------------------------------------------------------------------------


def test_a_rep_reopens_a_lost_deal_from_its_page(rep: User, deal: Deal) -> None:
    _lost(deal, rep)
    client = client_for(rep)
    page = client.get(url("deal_detail", deal.pk)).content.decode()
    assert "Reopen the deal" in page and url("deal_reopen", deal.pk) in page
    response = client.post(url("deal_reopen", deal.pk), {"to": "negotiation", "reason": "They came back after the pilot."})
    assert response.status_code == 302 and response["Location"] == url("deal_detail", deal.pk)
    deal.refresh_from_db()
    assert (deal.stage, deal.closed_at, deal.lost_reason, deal.sold_by) == ("negotiation", None, "", None)
    event = Activity.objects.get(deal=deal, event_type="deal.reopened")
    assert event.subject == "Deal Acme line 2 reopened by Rep: Lost -> Negotiation"
    assert event.body == "They came back after the pilot." and event.actor == rep
    assert _totals() == {"negotiation": 1}
    after = client.get(url("deal_detail", deal.pk)).content.decode()
    assert "reopened at Negotiation" in after and "reopened by Rep" in after and "Mark as won" in after


def test_the_reason_is_optional(rep: User, deal: Deal) -> None:
    _lost(deal, rep)
    assert client_for(rep).post(url("deal_reopen", deal.pk), {"to": "lead"}).status_code == 302
    deal.refresh_from_db()
    assert deal.stage == "lead" and Activity.objects.get(deal=deal, event_type="deal.reopened").body == ""


@pytest.mark.parametrize(("data", "field"), [
    ({"to": "won"}, "to"), ({"to": ""}, "to"), ({"to": "archived"}, "to"),
    ({"to": "lead", "reason": "x" * 2001}, "reason"),
])
def test_bad_reopen_input_names_the_field_and_saves_nothing(rep: User, deal: Deal, data: dict, field: str) -> None:
    _lost(deal, rep)
    before = Activity.objects.count()
    response = client_for(rep).post(url("deal_reopen", deal.pk), data)
    assert response.status_code == 400
    assert field in response.context["reopen_form"].errors
    deal.refresh_from_db()
    assert deal.stage == "lost" and Activity.objects.count() == before


def test_the_service_refuses_a_closed_stage_naming_the_field(rep: User, deal: Deal) -> None:
    _lost(deal, rep)
    with pytest.raises(ValidationError) as caught:
        flows.deal_reopen(deal=deal, by=rep, to="won")
    assert "to" in caught.value.message_dict
    deal.refresh_from_db()
    assert deal.stage == "lost"


def test_an_open_deal_cannot_be_reopened(rep: User, deal: Deal) -> None:
    response = client_for(rep).post(url("deal_reopen", deal.pk), {"to": "lead"}, follow=True)
    assert "only a won or lost deal is reopened" in response.content.decode()
    deal.refresh_from_db()
    assert deal.stage == "lead" and not Activity.objects.filter(event_type="deal.reopened").exists()


def test_someone_outside_the_account_gets_a_404(rep: User, rep2: User, deal: Deal) -> None:
    _lost(deal, rep)
    assert client_for(rep2).post(url("deal_reopen", deal.pk), {"to": "lead"}).status_code == 404
    deal.refresh_from_db()
    assert deal.stage == "lost"


def test_a_role_that_does_not_sell_gets_a_403_and_no_button(rep: User, deliverymgr: User, deal: Deal) -> None:
    _lost(deal, rep)
    client = client_for(deliverymgr)
    assert "Reopen the deal" not in client.get(url("deal_detail", deal.pk)).content.decode()
    assert client.post(url("deal_reopen", deal.pk), {"to": "lead"}).status_code == 403
    deal.refresh_from_db()
    assert deal.stage == "lost"


# --- Won deals and their handover ----------------------------------------------------------------


def test_reopening_a_won_deal_discards_its_draft_handover(rep: User, deal: Deal) -> None:
    _won(deal, rep)
    handover = Handover.objects.get(deal=deal)
    assert HandoverContact.objects.filter(handover=handover).exists()
    page = client_for(rep).get(url("deal_detail", deal.pk)).content.decode()
    assert "Its handover draft is discarded" in page
    response = client_for(rep).post(url("deal_reopen", deal.pk), {"to": "negotiation", "reason": "Scope changed."})
    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.stage, deal.sold_by, deal.closed_at) == ("negotiation", None, None)
    assert not Handover.objects.filter(deal=deal).exists()
    assert not HandoverContact.objects.filter(handover_id=handover.pk).exists()
    discarded = Activity.objects.get(deal=deal, event_type="handover.discarded")
    assert discarded.data["handover"] == handover.pk and discarded.actor == rep
    # The account was made a customer by this win: with no won deal left it is a prospect again.
    assert Account.objects.get(pk=deal.account_id).lifecycle == "prospect"
    assert _totals() == {"negotiation": 1}


def test_winning_a_reopened_deal_drafts_a_new_handover(rep: User, deal: Deal) -> None:
    _won(deal, rep)
    first = Handover.objects.get(deal=deal).pk
    flows.deal_reopen(deal=deal, by=rep, to="proposal")
    _won(deal, rep)
    again = Handover.objects.get(deal=deal)
    assert again.pk != first and again.state == "draft"
    assert Account.objects.get(pk=deal.account_id).lifecycle == "customer"


def test_an_account_with_another_won_deal_stays_a_customer(rep: User, deal: Deal, account: Account) -> None:
    other = services.deal_create(account=account, by=rep, name="Support plan", value="10")
    _won(other, rep)
    _won(deal, rep)
    flows.deal_reopen(deal=deal, by=rep, to="lead")
    assert Account.objects.get(pk=account.pk).lifecycle == "customer"


def test_a_won_deal_whose_handover_was_submitted_is_not_reopened(rep: User, deal: Deal) -> None:
    _won(deal, rep)
    handover = submitted(Handover.objects.get(deal=deal), rep)
    before = (Activity.objects.count(), _totals())
    client = client_for(rep)
    page = client.get(url("deal_detail", deal.pk)).content.decode()
    assert "Its handover is submitted" in page and "Reopen the deal" not in page
    response = client.post(url("deal_reopen", deal.pk), {"to": "negotiation"}, follow=True)
    assert "Its handover is submitted: a won deal can be reopened only while its handover is a draft" in (
        response.content.decode()
    )
    # Nothing of the win is undone: the deal, its handover, the account and the figures stay.
    deal.refresh_from_db()
    assert deal.stage == "won" and deal.sold_by == rep and deal.closed_at is not None
    assert Handover.objects.get(pk=handover.pk).state == "submitted"
    assert Account.objects.get(pk=deal.account_id).lifecycle == "customer"
    assert (Activity.objects.count(), _totals()) == before


def test_a_returned_handover_also_keeps_the_deal_won(rep: User, salesmgr: User, deal: Deal) -> None:
    from handover import services as handover_services

    _won(deal, rep)
    handover = submitted(Handover.objects.get(deal=deal), rep)
    handover_services.handover_return(handover=handover, by=salesmgr, reason="Add the risks.")
    with pytest.raises(Conflict, match="returned by sales"):
        flows.deal_reopen(deal=deal, by=rep, to="lead")
    assert Deal.objects.get(pk=deal.pk).stage == "won"


def test_the_crm_service_alone_leaves_the_handover_the_flow_discards(rep: User, deal: Deal, other_deal: Deal, rep2: User) -> None:
    _won(deal, rep)
    _won(other_deal, rep2)
    services.deal_reopen(deal=other_deal, by=rep2, to="lead")
    flows.deal_reopen(deal=deal, by=rep, to="lead")
    assert Handover.objects.filter(deal=other_deal).exists() and not Handover.objects.filter(deal=deal).exists()


# --- The API -------------------------------------------------------------------------------------


def test_the_api_reopens_a_lost_deal(rep: User, deal: Deal) -> None:
    _lost(deal, rep)
    response = api_for(rep).post(f"{API}/deals/{deal.pk}/reopen/", {"to": "qualified", "reason": "Back"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["stage"] == "qualified" and response.json()["closed_at"] is None
    assert Activity.objects.get(deal=deal, event_type="deal.reopened").body == "Back"


def test_the_api_refuses_a_submitted_handovers_deal_with_409(rep: User, deal: Deal) -> None:
    _won(deal, rep)
    submitted(Handover.objects.get(deal=deal), rep)
    response = api_for(rep).post(f"{API}/deals/{deal.pk}/reopen/", {"to": "lead"}, format="json")
    assert response.status_code == 409
    assert "handover is submitted" in response.content.decode()
    assert Deal.objects.get(pk=deal.pk).stage == "won"


@pytest.mark.parametrize("body", [{"to": "won"}, {}, {"to": "lead", "reason": "x" * 2001}])
def test_the_api_names_the_bad_field(rep: User, deal: Deal, body: dict) -> None:
    _lost(deal, rep)
    response = api_for(rep).post(f"{API}/deals/{deal.pk}/reopen/", body, format="json")
    assert response.status_code == 400
    assert set(response.json()) & {"to", "reason"}
    assert Deal.objects.get(pk=deal.pk).stage == "lost"


def test_the_api_answers_404_outside_the_account_and_403_to_a_role_that_does_not_sell(
    rep: User, rep2: User, deliverymgr: User, deal: Deal,
) -> None:
    _lost(deal, rep)
    assert api_for(rep2).post(f"{API}/deals/{deal.pk}/reopen/", {"to": "lead"}, format="json").status_code == 404
    assert api_for(deliverymgr).post(f"{API}/deals/{deal.pk}/reopen/", {"to": "lead"}, format="json").status_code == 403
    assert Deal.objects.get(pk=deal.pk).stage == "lost"


def test_the_api_move_refuses_a_stale_from_stage(rep: User, presales: User, deal: Deal) -> None:
    services.deal_move(deal=deal, by=presales, to="proposal")
    response = api_for(rep).post(
        f"{API}/deals/{deal.pk}/move/", {"stage": "negotiation", "from_stage": "lead"}, format="json",
    )
    assert response.status_code == 409 and "meanwhile" in response.content.decode()
    assert Deal.objects.get(pk=deal.pk).stage == "proposal"
    ok = api_for(rep).post(f"{API}/deals/{deal.pk}/move/", {"stage": "negotiation", "from_stage": "proposal"}, format="json")
    assert ok.status_code == 200 and ok.json()["stage"] == "negotiation"
