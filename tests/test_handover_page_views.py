"""The handover browser UI: the promise ledger, the handover page and its summary, the review
queue, the acceptance inbox and "my handovers". Access rules, bad input, side effects and query
budgets, as for crm's pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from crm import services as crm_services
from crm.models import Account, AccountTeamMember, Activity, Deal
from flows import actions as flows
from handover import services
from handover.models import Handover, Promise, PromiseReview
from handover.urls import urlpatterns
from handover.views import countdown
from tests.scenarios import client_for

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def url(name: str, *args: Any) -> str:
    return reverse(f"handover:{name}", args=args)


def alice(account: Account) -> Any:
    return account.contacts.get(first_name="Alice")


def record(deal: Deal, by: User, description: str = "Two robot arms installed by 1 March") -> Promise:
    return services.promise_record(
        deal=deal, by=by, kind="deliverable", description=description, source="proposal",
        made_to=deal.account.contacts.order_by("pk").first(),
    )


@pytest.fixture
def promise(deal: Deal, rep: User) -> Promise:
    return record(deal, rep)


@pytest.fixture
def won(deal: Deal, rep: User, promise: Promise) -> Handover:
    flows.deal_win(deal=deal, by=rep)
    return Handover.objects.get(deal=deal)


def ready(handover: Handover, rep: User) -> Handover:
    return services.handover_update(
        handover=handover, by=rep, customer_expectations="Line 2 running before the spring peak.",
        meeting_at=timezone.now() - timedelta(hours=2), meeting_held=True, meeting_minutes="Walked through the plan.",
    )


def submitted(handover: Handover, rep: User) -> Handover:
    ready(handover, rep)
    return services.handover_submit(handover=handover, by=rep)


def approved(handover: Handover, rep: User, salesmgr: User) -> Handover:
    submitted(handover, rep)
    for p in Promise.objects.filter(deal=handover.deal):
        services.promise_review(promise=p, by=salesmgr, verdict="ok")
    return services.handover_approve(handover=handover, by=salesmgr)


def feasible(handover: Handover, deliverymgr: User) -> None:
    for p in Promise.objects.filter(deal=handover.deal):
        services.promise_review(promise=p, by=deliverymgr, verdict="feasible")


def state_of(handover: Handover) -> str:
    return Handover.objects.get(pk=handover.pk).state


def events_of(deal: Deal, event_type: str) -> int:
    return Activity.objects.filter(deal=deal, event_type=event_type).count()


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


# --- Access: outsiders, wrong roles, methods ------------------------------------------------

OBJECT_URLS = [
    ("deal_promises", "get", "deal"), ("promise_record", "post", "deal"),
    ("promise_edit", "post", "promise"), ("promise_review", "post", "promise"),
    ("promise_reset", "post", "promise"), ("promise_withdraw", "post", "promise"),
    ("handover_detail", "get", "handover"), ("handover_summary", "get", "handover"),
    ("handover_save", "post", "handover"), ("handover_submit", "post", "handover"),
    ("handover_approve", "post", "handover"), ("handover_return", "post", "handover"),
    ("handover_accept", "post", "handover"), ("handover_reject", "post", "handover"),
]


@pytest.mark.parametrize(("name", "method", "kind"), OBJECT_URLS)
def test_another_reps_promise_and_handover_answer_404_on_read_and_every_action(
    name: str, method: str, kind: str, rep2: User, won: Handover, promise: Promise
) -> None:
    target = {"deal": won.deal_id, "promise": promise.pk, "handover": won.pk}[kind]
    response = getattr(client_for(rep2), method)(url(name, target), {"reason": "x", "verdict": "ok"})
    assert response.status_code == 404
    assert state_of(won) == "draft" and not PromiseReview.objects.exists()


@pytest.mark.parametrize(
    ("who", "action"),
    [("rep", "handover_approve"), ("salesmgr", "handover_accept"), ("deliverymgr", "handover_approve"),
     ("rep", "handover_accept"), ("rep", "handover_reject"), ("deliverymgr", "handover_return")],
)
def test_the_wrong_role_gets_403_and_the_state_stays(
    who: str, action: str, request: Any, rep: User, salesmgr: User, deliverymgr: User, delivery: User, won: Handover
) -> None:
    approved(won, rep, salesmgr) if action in ("handover_accept", "handover_reject") else submitted(won, rep)
    before = state_of(won)
    response = client_for(request.getfixturevalue(who)).post(
        url(action, won.pk), {"delivery_owner": delivery.pk, "reason": "because"}
    )
    assert response.status_code == 403 and state_of(won) == before


def test_a_rep_cannot_review_a_promise(rep: User, promise: Promise) -> None:
    assert client_for(rep).post(url("promise_review", promise.pk), {"verdict": "ok"}).status_code == 403
    assert not PromiseReview.objects.exists()


@pytest.mark.parametrize(("name", "method", "kind"), [u for u in OBJECT_URLS if u[1] == "post"])
def test_action_urls_refuse_get(name: str, method: str, kind: str, rep: User, won: Handover, promise: Promise) -> None:
    target = {"deal": won.deal_id, "promise": promise.pk, "handover": won.pk}[kind]
    assert client_for(rep).get(url(name, target)).status_code == 405


# The role x URL table: every URL of the handover namespace, and what each persona gets with an
# empty (or harmless) request against a draft handover. A new URL without a row fails the test below.
ROLES = ("rep", "outsider", "salesmgr", "deliverymgr", "delivery")
TABLE: dict[str, tuple[str, str | None, tuple[int, ...]]] = {
    #                      method  object      rep  outsider salesmgr deliverymgr delivery
    "deal_promises": ("get", "deal", (200, 404, 200, 200, 404)),
    "promise_record": ("post", "deal", (400, 404, 403, 403, 404)),
    "promise_edit": ("post", "promise", (400, 404, 403, 403, 404)),
    "promise_review": ("post", "promise", (403, 404, 400, 400, 404)),
    "promise_reset": ("post", "promise", (400, 404, 400, 403, 404)),
    "promise_withdraw": ("post", "promise", (400, 404, 400, 403, 404)),
    "my_handovers": ("get", None, (200, 200, 200, 200, 200)),
    "review_queue": ("get", None, (403, 403, 200, 403, 403)),
    "inbox": ("get", None, (403, 403, 403, 200, 403)),
    "handover_detail": ("get", "handover", (200, 404, 200, 200, 404)),
    "handover_summary": ("get", "handover", (200, 404, 200, 200, 404)),
    "handover_save": ("post", "handover", (302, 404, 302, 403, 404)),
    "handover_submit": ("post", "handover", (400, 404, 400, 403, 404)),
    "handover_approve": ("post", "handover", (403, 404, 302, 403, 404)),  # 302: a draft is a conflict
    "handover_return": ("post", "handover", (403, 404, 400, 403, 404)),
    "handover_accept": ("post", "handover", (403, 404, 403, 400, 404)),
    "handover_reject": ("post", "handover", (403, 404, 403, 400, 404)),
}


def test_every_handover_url_is_in_the_role_table() -> None:
    assert {p.name for p in urlpatterns} == set(TABLE)


@pytest.mark.parametrize(
    ("name", "role", "expected"),
    [(name, role, codes[i]) for name, (_m, _k, codes) in TABLE.items() for i, role in enumerate(ROLES)],
)
def test_the_role_table(
    name: str, role: str, expected: int, request: Any, won: Handover, promise: Promise, outsider: User,
    salesmgr: User, deliverymgr: User, delivery: User,
) -> None:
    method, kind, _codes = TABLE[name]
    args = [] if kind is None else [{"deal": won.deal_id, "promise": promise.pk, "handover": won.pk}[kind]]
    client = client_for(request.getfixturevalue(role))
    response = getattr(client, method)(url(name, *args))
    assert response.status_code == expected


# --- Query budgets --------------------------------------------------------------------------


def _many_handovers(account: Account, rep: User, count: int, promises: int = 2) -> list[Handover]:
    made = []
    for i in range(count):
        deal = crm_services.deal_create(
            account=account, by=rep, name=f"Deal {i}", value="1000",
            line_items=[{"kind": "product", "name": "Robot", "quantity": 1, "unit_price": "1000"}],
        )
        for j in range(promises):
            record(deal, rep, f"Promise {i}.{j}")
        flows.deal_win(deal=deal, by=rep)
        made.append(Handover.objects.get(deal=deal))
    return made


def test_the_review_queue_query_count_does_not_grow_with_handovers(
    rep: User, salesmgr: User, account: Account, django_assert_max_num_queries: Any
) -> None:
    for handover in _many_handovers(account, rep, 21):
        submitted(handover, rep)
        services.promise_review(promise=handover.deal.promises.first(), by=salesmgr, verdict="ok")
    client = client_for(salesmgr)
    with django_assert_max_num_queries(10):
        response = client.get(url("review_queue"))
    assert response.content.decode().count('class="card queue-item"') == 21


def test_the_inbox_query_count_does_not_grow_with_handovers(
    rep: User, salesmgr: User, deliverymgr: User, delivery: User, account: Account, django_assert_max_num_queries: Any
) -> None:
    for handover in _many_handovers(account, rep, 21):
        approved(handover, rep, salesmgr)
    client = client_for(deliverymgr)
    with django_assert_max_num_queries(11):
        response = client.get(url("inbox"))
    assert response.content.decode().count("queue-item") == 21


def test_the_handover_page_query_count_does_not_grow_with_promises(
    rep: User, salesmgr: User, won: Handover, deal: Deal, django_assert_max_num_queries: Any
) -> None:
    for i in range(24):
        p = record(deal, rep, f"Extra promise {i}")
        services.promise_review(promise=p, by=salesmgr, verdict="at_risk", comment="Check")
    ready(won, rep)
    client = client_for(rep)
    with django_assert_max_num_queries(20):
        response = client.get(url("handover_detail", won.pk))
    assert response.content.decode().count('class="promise promise-') == 25


def test_my_handovers_query_count_does_not_grow(rep: User, account: Account, django_assert_max_num_queries: Any) -> None:
    _many_handovers(account, rep, 21, promises=1)
    client = client_for(rep)
    with django_assert_max_num_queries(7):
        response = client.get(url("my_handovers"))
    assert response.status_code == 200
