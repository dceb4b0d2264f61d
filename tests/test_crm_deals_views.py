"""crm's deal pages: creating and editing with line items, stages, winning and losing."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from crm import services
from crm.models import Account, Activity, Deal, DealLineItem
from flows import actions as flows
from tests.scenarios import client_for, line_items
from tests.scenarios import crm_url as url

pytestmark = pytest.mark.django_db


# --- Deals ----------------------------------------------------------------------------------


def test_a_rep_opens_a_deal_with_line_items(rep: User, account: Account) -> None:
    data = {"name": "Acme line 3", "value": "30000", "currency": "eur", "expected_close_date": "2027-03-01",
            **line_items(("product", "Robot arm", "1", "25000"), ("service", "Training", "2", "2500"), ("product", "", "1", "0"))}
    response = client_for(rep).post(url("deal_create", account.pk), data)
    deal = Deal.objects.get(name="Acme line 3")
    assert response.status_code == 302 and response["Location"] == url("deal_detail", deal.pk)
    assert deal.currency == "EUR" and deal.owner == rep and deal.stage == "lead"
    assert list(deal.line_items.values_list("name", flat=True)) == ["Robot arm", "Training"]
    assert Activity.objects.filter(deal=deal, event_type="deal.created").exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "D", "value": "-1", "currency": "EUR"}, "value"),
        ({"name": "D", "value": "abc", "currency": "EUR"}, "value"),
        ({"name": "", "value": "1", "currency": "EUR"}, "name"),
        ({"name": "D", "value": "1", "currency": "E1"}, "currency"),
        ({"name": "D", "value": "1", "currency": "EUR", "expected_close_date": "31/02/2026"}, "expected_close_date"),
    ],
)
def test_bad_deal_input_names_the_field_and_saves_nothing(rep: User, account: Account, data: dict, field: str) -> None:
    response = client_for(rep).post(url("deal_create", account.pk), {**data, **line_items()})
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not Deal.objects.exists()


def test_a_rep_opens_a_deal_for_themselves_whatever_owner_is_posted(rep: User, rep2: User, account: Account) -> None:
    data = {"name": "Mine", "value": "10", "currency": "EUR", "owner": rep2.pk, **line_items()}
    page = client_for(rep).get(url("deal_create", account.pk)).content.decode()
    assert 'name="owner"' not in page
    assert client_for(rep).post(url("deal_create", account.pk), data).status_code == 302
    assert Deal.objects.get(name="Mine").owner == rep


def test_a_sales_manager_names_a_deal_owner_from_the_accounts_sales_team(
    salesmgr: User, presales: User, outsider: User, account: Account,
) -> None:
    page = client_for(salesmgr).get(url("deal_create", account.pk))
    choices = {u.username for u in page.context["form"].fields["owner"].queryset}
    assert "presales" in choices and "rep" in choices and "outsider" not in choices
    data = {"name": "For presales", "value": "10", "currency": "EUR", "owner": presales.pk, **line_items()}
    assert client_for(salesmgr).post(url("deal_create", account.pk), data).status_code == 302
    assert Deal.objects.get(name="For presales").owner == presales


def test_a_deal_owner_who_cannot_see_the_account_is_refused(salesmgr: User, outsider: User, account: Account) -> None:
    data = {"name": "Bad owner", "value": "10", "currency": "EUR", "owner": outsider.pk, **line_items()}
    response = client_for(salesmgr).post(url("deal_create", account.pk), data)
    assert response.status_code == 200
    assert "owner" in response.context["form"].errors
    assert not Deal.objects.exists()


def test_a_line_item_with_zero_quantity_is_refused(rep: User, account: Account) -> None:
    data = {"name": "D", "value": "1", "currency": "EUR", **line_items(("product", "Arm", "0", "10"))}
    response = client_for(rep).post(url("deal_create", account.pk), data)
    assert response.status_code == 200
    assert "quantity" in response.context["items"].forms[0].errors
    assert not Deal.objects.exists() and not DealLineItem.objects.exists()


def test_editing_a_deal_replaces_its_line_items(rep: User, deal: Deal) -> None:
    data = {"name": "Acme line 2", "value": "50000", "currency": "EUR", **line_items(("service", "Support", "1", "50000"))}
    response = client_for(rep).post(url("deal_edit", deal.pk), data)
    assert response.status_code == 302
    assert list(deal.line_items.values_list("name", flat=True)) == ["Support"]
    assert Activity.objects.filter(deal=deal, event_type="deal.updated").exists()


def test_the_deal_edit_form_starts_with_the_current_line_items(rep: User, deal: Deal) -> None:
    response = client_for(rep).get(url("deal_edit", deal.pk))
    assert b"Robot arm" in response.content and b"Installation" in response.content


def test_a_closed_deal_cannot_be_edited(rep: User, deal: Deal) -> None:
    flows.deal_win(deal=deal, by=rep)
    response = client_for(rep).get(url("deal_edit", deal.pk), follow=True)
    assert b"A closed deal cannot be edited" in response.content


def test_the_deal_page_moves_wins_and_shows_history(rep: User, deal: Deal) -> None:
    client = client_for(rep)
    assert client.get(url("deal_detail", deal.pk)).status_code == 200
    assert client.post(url("deal_move", deal.pk), {"to": "proposal"}).status_code == 302
    deal.refresh_from_db()
    assert deal.stage == "proposal"
    assert client.post(url("deal_win", deal.pk)).status_code == 302
    deal.refresh_from_db()
    assert deal.stage == "won" and deal.sold_by == rep and deal.closed_at is not None
    assert Activity.objects.filter(deal=deal, event_type="deal.won").count() == 1
    assert b"Lead -&gt; Proposal" in client.get(url("deal_detail", deal.pk)).content


def test_losing_a_deal_requires_a_reason(rep: User, deal: Deal) -> None:
    client = client_for(rep)
    response = client.post(url("deal_lose", deal.pk), {"reason": "  "})
    assert response.status_code == 400
    assert b"Say why the deal was lost" in response.content
    deal.refresh_from_db()
    assert deal.stage == "lead"
    assert client.post(url("deal_lose", deal.pk), {"reason": "Chose a competitor"}).status_code == 302
    deal.refresh_from_db()
    assert deal.stage == "lost" and deal.lost_reason == "Chose a competitor"


def test_winning_a_closed_deal_is_a_clear_conflict(rep: User, deal: Deal) -> None:
    services.deal_lose(deal=deal, by=rep, reason="Budget")
    response = client_for(rep).post(url("deal_win", deal.pk), follow=True)
    assert response.status_code == 200
    assert b'class="message message-error"' in response.content
    deal.refresh_from_db()
    assert deal.stage == "lost"


def test_moving_to_an_unknown_stage_names_the_field(rep: User, deal: Deal) -> None:
    response = client_for(rep).post(url("deal_move", deal.pk), {"to": "won"})
    assert response.status_code == 400
    assert "to" in response.context["move_form"].errors
    deal.refresh_from_db()
    assert deal.stage == "lead"


def test_the_pipeline_shows_visible_deals_by_stage(rep: User, deal: Deal, other_deal: Deal) -> None:
    response = client_for(rep).get(url("pipeline"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Acme line 2" in body and "Globex renewal" not in body
    assert [c.stage for c in response.context["columns"]] == ["lead", "qualified", "proposal", "negotiation", "won", "lost"]


def test_the_pipeline_can_show_only_my_deals(salesmgr: User, deal: Deal) -> None:
    assert b"Acme line 2" not in client_for(salesmgr).get(url("pipeline"), {"mine": "1"}).content
