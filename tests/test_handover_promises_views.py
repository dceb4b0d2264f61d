"""The promise ledger page: recording, editing, reviewing and withdrawing promises."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from crm.models import Account, Activity, Deal
from handover import services
from handover.models import Handover, Promise, PromiseReview
from tests.scenarios import HTMX, client_for, submitted
from tests.scenarios import handover_events as events_of
from tests.scenarios import handover_url as url

pytestmark = pytest.mark.django_db


def alice(account: Account) -> Any:
    return account.contacts.get(first_name="Alice")


# --- The promise ledger ---------------------------------------------------------------------


def test_the_ledger_shows_each_promise_with_its_maker_reviews_and_the_record_form(
    rep: User, salesmgr: User, deal: Deal, promise: Promise
) -> None:
    services.promise_review(promise=promise, by=salesmgr, verdict="at_risk", comment="Tight for March")
    services.promise_review(promise=promise, by=salesmgr, verdict="ok", comment="Installer confirmed")
    response = client_for(rep).get(url("deal_promises", deal.pk))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Two robot arms installed by 1 March" in html and "Rep" in html
    assert "Installer confirmed" in html and "Tight for March" in html
    assert html.count("review-latest") == 1  # the latest sales review is the one highlighted
    assert 'id="record-promise"' in html
    assert "style=" not in html  # the CSP forbids inline styles


def test_a_rep_records_a_promise_in_place_and_is_its_maker(rep: User, deal: Deal, account: Account) -> None:
    response = client_for(rep).post(
        url("promise_record", deal.pk),
        {"kind": "timeline", "description": "Go-live before Easter", "source": "call", "made_to": alice(account).pk},
        **HTMX,
    )
    assert response.status_code == 200
    promise = Promise.objects.get(description="Go-live before Easter")
    assert promise.made_by == rep and promise.made_to == alice(account)
    html = response.content.decode()
    assert f'id="promise-{promise.pk}"' in html and 'hx-swap-oob="beforeend:#promise-list"' in html
    assert 'id="record-promise"' in html  # a fresh form replaces the old one
    assert events_of(deal, "promise.recorded") == 1


def test_recording_without_a_description_shows_the_message_in_place_and_saves_nothing(rep: User, deal: Deal) -> None:
    client = client_for(rep)
    response = client.post(url("promise_record", deal.pk), {"kind": "timeline", "description": " ", "source": "call"}, **HTMX)
    assert response.status_code == 200
    assert "Write what the customer was promised." in response.content.decode()
    response = client.post(url("promise_record", deal.pk), {"kind": "bribe", "description": "x", "source": "call"})
    assert response.status_code == 400 and b"Select a valid choice" in response.content
    assert not Promise.objects.exists()


def test_a_promise_to_another_accounts_contact_is_refused(rep: User, deal: Deal, other_account: Account) -> None:
    response = client_for(rep).post(
        url("promise_record", deal.pk),
        {"kind": "other", "description": "x", "source": "call", "made_to": other_account.contacts.get().pk},
    )
    assert response.status_code == 400 and not Promise.objects.exists()


def test_a_sales_manager_reviews_in_place_and_the_row_shows_it(salesmgr: User, promise: Promise) -> None:
    response = client_for(salesmgr).post(url("promise_review", promise.pk), {"verdict": "at_risk", "comment": "Tight"}, **HTMX)
    assert response.status_code == 200
    assert "Sales: At risk" in response.content.decode()
    review = PromiseReview.objects.get()
    assert (review.kind, review.verdict, review.reviewer) == ("sales", "at_risk", salesmgr)
    assert Activity.objects.filter(event_type="promise.review.sales").count() == 1


def test_a_delivery_managers_review_is_a_feasibility_review(deliverymgr: User, promise: Promise) -> None:
    response = client_for(deliverymgr).post(url("promise_review", promise.pk), {"verdict": "not_feasible", "comment": "No crew"}, **HTMX)
    assert response.status_code == 200 and "Delivery: Not feasible" in response.content.decode()
    assert PromiseReview.objects.get().kind == "feasibility"


def test_a_bad_review_names_the_field_and_saves_nothing(salesmgr: User, promise: Promise) -> None:
    client = client_for(salesmgr)
    response = client.post(url("promise_review", promise.pk), {"verdict": "not_acceptable", "comment": ""}, **HTMX)
    assert "Say what is wrong with this promise." in response.content.decode()
    response = client.post(url("promise_review", promise.pk), {"verdict": "feasible"})
    assert response.status_code == 400 and b"Select a valid choice" in response.content
    assert not PromiseReview.objects.exists()


def test_a_reset_documents_what_the_customer_now_expects(rep: User, promise: Promise, account: Account) -> None:
    client = client_for(rep)
    bad = client.post(url("promise_reset", promise.pk), {"expectation": "", "agreed_on": ""}, **HTMX)
    assert "Write what the customer now expects." in bad.content.decode()
    assert "Name the customer contact who agreed." in bad.content.decode()
    future = client.post(
        url("promise_reset", promise.pk),
        {"expectation": "By 15 March", "agreed_by": alice(account).pk, "agreed_on": timezone.localdate() + timedelta(days=3)},
        **HTMX,
    )
    assert "The agreement cannot be in the future." in future.content.decode()
    assert Promise.objects.get(pk=promise.pk).state == "active"
    response = client.post(
        url("promise_reset", promise.pk),
        {"expectation": "By 15 March", "agreed_by": alice(account).pk, "agreed_on": timezone.localdate()},
        **HTMX,
    )
    assert response.status_code == 200 and "Now expected: By 15 March" in response.content.decode()
    assert Promise.objects.get(pk=promise.pk).state == "reset"
    assert events_of(promise.deal, "promise.reset") == 1


def test_withdrawing_needs_a_reason_and_keeps_the_promise_visible(rep: User, promise: Promise, deal: Deal) -> None:
    client = client_for(rep)
    assert "A reason is required." in client.post(url("promise_withdraw", promise.pk), {"reason": ""}, **HTMX).content.decode()
    assert Promise.objects.get(pk=promise.pk).state == "active"
    response = client.post(url("promise_withdraw", promise.pk), {"reason": "Customer dropped it"})
    assert response.status_code == 302
    page = client.get(url("deal_promises", deal.pk)).content.decode()
    assert "Withdrawn:" in page and "Customer dropped it" in page and promise.description in page


def test_a_rep_edits_an_active_promise_in_place(rep: User, promise: Promise) -> None:
    response = client_for(rep).post(
        url("promise_edit", promise.pk),
        {"kind": "deliverable", "description": "Two robot arms by 8 March", "source": "proposal", "due_date": "2030-03-08"},
        **HTMX,
    )
    assert response.status_code == 200 and "Two robot arms by 8 March" in response.content.decode()
    promise.refresh_from_db()
    assert promise.description == "Two robot arms by 8 March" and str(promise.due_date) == "2030-03-08"
    assert promise.made_by == rep


def test_editing_a_promise_of_a_submitted_handover_is_a_clear_409(rep: User, won: Handover, promise: Promise) -> None:
    submitted(won, rep)
    response = client_for(rep).post(
        url("promise_edit", promise.pk), {"kind": "other", "description": "Changed", "source": "call"}, **HTMX
    )
    assert response.status_code == 409
    assert response["HX-Retarget"] == "#alerts"
    assert "promises can no longer change" in response.content.decode()
    assert Promise.objects.get(pk=promise.pk).description != "Changed"


def test_without_htmx_a_conflict_goes_back_with_the_message(rep: User, won: Handover, promise: Promise) -> None:
    submitted(won, rep)
    client = client_for(rep)
    response = client.post(url("promise_record", won.deal_id), {"kind": "other", "description": "More", "source": "call"})
    assert response.status_code == 302
    assert "can no longer change" in client.get(response["Location"]).content.decode()
