"""The handover page and its actions, and the work lists of reps and managers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from crm import services as crm_services
from crm.models import Account, AccountTeamMember, Activity, Deal
from flows import actions as flows
from handover import services
from handover.models import Handover, Promise
from handover.views.shared import countdown
from tests.scenarios import HTMX, approved, client_for, feasible, record, submitted
from tests.scenarios import handover_events as events_of
from tests.scenarios import handover_state as state_of
from tests.scenarios import handover_url as url
from tests.scenarios import ready_to_submit as ready

pytestmark = pytest.mark.django_db


# --- The handover page ----------------------------------------------------------------------


def test_the_handover_page_shows_the_form_what_it_waits_for_and_the_history(rep: User, won: Handover) -> None:
    response = client_for(rep).get(url("handover_detail", won.pk))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="handover-form"' in html and "Submit the handover" in html
    assert "Write the customer&#x27;s expectations in their own words." in html  # a submit blocker
    assert "Handover drafted" in html and "Promise recorded" in html  # the event history
    assert "style=" not in html


def test_saving_the_handover_names_contacts_and_the_meeting(rep: User, delivery: User, won: Handover, account: Account) -> None:
    bruno = account.contacts.get(first_name="Bruno")
    response = client_for(rep).post(
        url("handover_save", won.pk),
        {
            "purchased": "2 robot arms", "customer_expectations": "Running by spring", "risks": "Tight floor space",
            "meeting_at": (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"), "meeting_held": "on",
            "meeting_minutes": "All agreed", "proposed_delivery_owner": delivery.pk, "vendor_attendees": [rep.pk],
            "customer_attendees": [bruno.pk], f"contact_{bruno.pk}": "on", f"role_{bruno.pk}": "Site lead",
        },
    )
    assert response.status_code == 302
    won.refresh_from_db()
    assert won.customer_expectations == "Running by spring" and won.meeting_held
    assert won.proposed_delivery_owner == delivery
    assert [(c.contact, c.delivery_role) for c in won.contacts.all()] == [(bruno, "Site lead")]
    assert list(won.customer_attendees.all()) == [bruno] and list(won.vendor_attendees.all()) == [rep]
    assert events_of(won.deal, "handover.updated") == 1


def test_a_meeting_held_in_the_future_is_refused_next_to_the_field(rep: User, won: Handover) -> None:
    response = client_for(rep).post(
        url("handover_save", won.pk),
        {"purchased": "x", "customer_expectations": "New words", "meeting_held": "on",
         "meeting_at": (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")},
    )
    assert response.status_code == 400
    assert "it has not been held yet" in response.content.decode()
    assert Handover.objects.get(pk=won.pk).customer_expectations == ""


def test_submitting_an_incomplete_handover_says_why_and_changes_nothing(rep: User, won: Handover) -> None:
    response = client_for(rep).post(url("handover_submit", won.pk))
    assert response.status_code == 400
    assert "Write the customer&#x27;s expectations in their own words." in response.content.decode()
    assert state_of(won) == "draft"


def test_the_rep_submits_and_an_event_is_written(rep: User, won: Handover) -> None:
    ready(won, rep)
    response = client_for(rep).post(url("handover_submit", won.pk))
    assert response.status_code == 302 and state_of(won) == "submitted"
    assert events_of(won.deal, "handover.submitted") == 1


def test_approval_waits_for_every_promise_to_be_reviewed(rep: User, salesmgr: User, won: Handover) -> None:
    submitted(won, rep)
    response = client_for(salesmgr).post(url("handover_approve", won.pk))
    assert response.status_code == 400 and b"Review every promise first." in response.content
    assert state_of(won) == "submitted"


def test_a_sales_manager_approves_from_the_queue_and_returns_to_it(
    rep: User, salesmgr: User, won: Handover, promise: Promise
) -> None:
    submitted(won, rep)
    services.promise_review(promise=promise, by=salesmgr, verdict="ok")
    response = client_for(salesmgr).post(url("handover_approve", won.pk), {"next": url("review_queue")})
    assert response.status_code == 302 and response["Location"] == url("review_queue")
    handover = Handover.objects.get(pk=won.pk)
    assert handover.state == "sales_approved" and handover.accept_deadline is not None
    assert events_of(won.deal, "handover.sales_approved") == 1


def test_an_outside_next_is_ignored(rep: User, salesmgr: User, won: Handover, promise: Promise) -> None:
    submitted(won, rep)
    services.promise_review(promise=promise, by=salesmgr, verdict="ok")
    response = client_for(salesmgr).post(url("handover_approve", won.pk), {"next": "https://evil.example/"})
    assert response["Location"] == url("handover_detail", won.pk)


def test_returning_needs_a_reason_then_emails_the_rep(
    rep: User, salesmgr: User, won: Handover, mailoutbox: Any, django_capture_on_commit_callbacks: Any
) -> None:
    submitted(won, rep)
    client = client_for(salesmgr)
    response = client.post(url("handover_return", won.pk), {"reason": "  "})
    assert response.status_code == 400 and b"A reason is required." in response.content
    assert state_of(won) == "submitted"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("handover_return", won.pk), {"reason": "Expectations are vague"})
    assert response.status_code == 302 and state_of(won) == "returned"
    assert [m.to for m in mailoutbox] == [[rep.email]]
    assert Activity.objects.get(deal=won.deal, event_type="handover.returned").body == "Expectations are vague"
    page = client_for(rep).get(url("handover_detail", won.pk)).content.decode()
    assert "Expectations are vague" in page and "Submit the handover" in page


def test_a_delivery_manager_accepts_naming_the_owner_and_the_customer_is_emailed(
    rep: User, salesmgr: User, deliverymgr: User, delivery: User, won: Handover,
    mailoutbox: Any, django_capture_on_commit_callbacks: Any,
) -> None:
    approved(won, rep, salesmgr)
    feasible(won, deliverymgr)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(deliverymgr).post(url("handover_accept", won.pk), {"delivery_owner": delivery.pk})
    assert response.status_code == 302
    handover = Handover.objects.get(pk=won.pk)
    assert handover.state == "accepted" and handover.delivery_owner == delivery
    assert AccountTeamMember.objects.filter(account=won.account, user=delivery, role="delivery_owner").exists()
    assert events_of(won.deal, "handover.accepted") == 1
    customer = [m for m in mailoutbox if m.to == ["alice@acme.example"]]
    assert len(customer) == 1 and "Delivery" in customer[0].body and "call me" in customer[0].body
    assert {tuple(m.to) for m in mailoutbox} >= {(rep.email,), (delivery.email,)}


def test_accepting_needs_a_delivery_team_member_and_feasibility_reviews(
    rep: User, salesmgr: User, deliverymgr: User, delivery: User, won: Handover
) -> None:
    approved(won, rep, salesmgr)
    client = client_for(deliverymgr)
    response = client.post(url("handover_accept", won.pk), {"delivery_owner": rep.pk})
    assert response.status_code == 400 and b"Select a valid choice" in response.content
    response = client.post(url("handover_accept", won.pk), {"delivery_owner": delivery.pk})
    assert response.status_code == 400 and b"Review every promise&#x27;s feasibility first." in response.content
    assert state_of(won) == "sales_approved"


def test_rejecting_needs_a_reason_and_goes_back_to_the_rep(
    rep: User, salesmgr: User, deliverymgr: User, won: Handover, mailoutbox: Any, django_capture_on_commit_callbacks: Any
) -> None:
    approved(won, rep, salesmgr)
    client = client_for(deliverymgr)
    assert client.post(url("handover_reject", won.pk), {"reason": ""}).status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("handover_reject", won.pk), {"reason": "No meeting minutes", "next": url("inbox")})
    assert response["Location"] == url("inbox") and state_of(won) == "rejected"
    assert len(mailoutbox) == 1 and events_of(won.deal, "handover.rejected") == 1


def test_accepting_twice_is_a_conflict_not_a_second_email(
    rep: User, salesmgr: User, deliverymgr: User, delivery: User, won: Handover,
    mailoutbox: Any, django_capture_on_commit_callbacks: Any,
) -> None:
    approved(won, rep, salesmgr)
    feasible(won, deliverymgr)
    client = client_for(deliverymgr)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("handover_accept", won.pk), {"delivery_owner": delivery.pk})
    sent = len(mailoutbox)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("handover_accept", won.pk), {"delivery_owner": delivery.pk}, **HTMX)
    assert response.status_code == 409 and b"only an approved one is accepted" in response.content
    assert len(mailoutbox) == sent and events_of(won.deal, "handover.accepted") == 1


def test_the_printable_summary_fits_what_delivery_needs(rep: User, deliverymgr: User, won: Handover) -> None:
    ready(won, rep)
    response = client_for(deliverymgr).get(url("handover_summary", won.pk))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Line 2 running before the spring peak." in html and "Two robot arms installed by 1 March" in html
    assert "data-print" in html and "style=" not in html and "<script>" not in html


# --- Work lists -----------------------------------------------------------------------------


def test_the_review_queue_lists_submitted_handovers_with_their_promises(
    rep: User, salesmgr: User, won: Handover, promise: Promise
) -> None:
    submitted(won, rep)
    html = client_for(salesmgr).get(url("review_queue")).content.decode()
    assert won.deal.name in html and promise.description in html and "Sales review" in html
    assert "0 of 1 promise reviewed" in html


def test_the_inbox_is_ordered_by_deadline_with_a_countdown(
    rep: User, salesmgr: User, deliverymgr: User, won: Handover, account: Account
) -> None:
    approved(won, rep, salesmgr)
    later = Handover.objects.get(pk=won.pk)
    deal2 = crm_services.deal_create(account=account, by=rep, name="Acme spares", value="100",
                                     line_items=[{"kind": "product", "name": "Spares", "quantity": 1, "unit_price": "100"}])
    record(deal2, rep, "Spares in stock")
    flows.deal_win(deal=deal2, by=rep)
    first = approved(Handover.objects.get(deal=deal2), rep, salesmgr)
    Handover.objects.filter(pk=first.pk).update(accept_deadline=timezone.now() - timedelta(hours=2, minutes=5))
    html = client_for(deliverymgr).get(url("inbox")).content.decode()
    assert html.index("Acme spares") < html.index(later.deal.name)
    assert "overdue by 2 h" in html and "due in" in html
    assert "Feasibility review" in html and "Accept" in html


def test_countdown_reads_like_a_person_would_say_it() -> None:
    now = timezone.now()
    assert countdown(now + timedelta(days=1, hours=3, minutes=10), now) == "due in 1 day 3 h"
    assert countdown(now - timedelta(hours=2, minutes=1), now) == "overdue by 2 h"
    assert countdown(now + timedelta(minutes=30), now) == "due in 30 min"
    assert countdown(now + timedelta(days=2), now) == "due in 2 days"
    assert countdown(None, now) == ""


def test_my_handovers_shows_states_and_what_each_waits_for(
    rep: User, rep2: User, salesmgr: User, won: Handover, other_deal: Deal
) -> None:
    flows.deal_win(deal=other_deal, by=rep2)
    html = client_for(rep).get(url("my_handovers")).content.decode()
    assert won.deal.name in html and "Draft" in html and "the customer&#x27;s expectations" in html
    assert other_deal.name not in html
    submitted(won, rep)
    assert "A sales manager&#x27;s review and approval." in client_for(rep).get(url("my_handovers")).content.decode()


def test_presales_sees_the_handovers_of_deals_carrying_their_promises(presales: User, won: Handover, deal: Deal) -> None:
    record(deal, presales, "A demo promise")
    assert deal.name in client_for(presales).get(url("my_handovers")).content.decode()


def test_the_navigation_links_each_role_to_its_list(rep: User, salesmgr: User, deliverymgr: User) -> None:
    assert b">Handovers</a>" in client_for(rep).get(url("my_handovers")).content
    assert url("my_handovers").encode() in client_for(rep).get(url("my_handovers")).content
    assert url("review_queue").encode() in client_for(salesmgr).get(url("my_handovers")).content
    assert url("inbox").encode() in client_for(deliverymgr).get(url("my_handovers")).content
    assert url("inbox").encode() not in client_for(rep).get(url("my_handovers")).content
