"""The handover API's transitions: submit, approve, return, accept, reject; 409 on illegal ones
with the state unchanged, and the acceptance emails after commit (reliability.md 15-19)."""

from __future__ import annotations

import pytest

from crm.models import Account, Activity
from flows import actions as flows
from handover import services
from handover.models import Handover
from tests.scenarios import API, _results, api_for, approved, make_user, ready_to_submit, submitted
from tests.scenarios import handover_state as _state

# --- Handover transitions -------------------------------------------------------------------


def test_from_submission_to_acceptance_with_events_and_emails(
    won, rep, salesmgr, deliverymgr, delivery, promise, account, mailoutbox, django_capture_on_commit_callbacks
):
    ready_to_submit(won, rep)
    response = api_for(rep).post(f"{API}/handovers/{won.pk}/submit/", format="json")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "submitted" and response.json()["submitted_at"]

    assert api_for(salesmgr).post(f"{API}/promises/{promise.pk}/review/", {"verdict": "ok"},
                                  format="json").status_code == 200
    response = api_for(salesmgr).post(f"{API}/handovers/{won.pk}/approve/", format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["state"] == "sales_approved" and data["accept_deadline"]
    assert data["waiting_for"] == {
        "next_step": "accept", "blockers": {"promises": "Review every promise's feasibility first."},
    }

    assert api_for(deliverymgr).post(f"{API}/promises/{promise.pk}/review/", {"verdict": "feasible"},
                                     format="json").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = api_for(deliverymgr).post(f"{API}/handovers/{won.pk}/accept/", {"delivery_owner": delivery.pk},
                                             format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["state"] == "accepted" and data["delivery_owner"] == delivery.pk and data["accepted_at"]
    assert data["waiting_for"] == {"next_step": None, "blockers": {}}
    assert Account.objects.get(pk=account.pk).owner == delivery
    types = list(Activity.objects.filter(deal=won.deal, event_type__startswith="handover.")
                 .order_by("occurred_at", "pk").values_list("event_type", flat=True))
    assert types[-3:] == ["handover.submitted", "handover.sales_approved", "handover.accepted"]
    to = sorted(m.to[0] for m in mailoutbox)
    assert to == sorted(["alice@acme.example", "bruno@acme.example", rep.email, delivery.email])


def test_submitting_an_incomplete_handover_answers_400_naming_the_fields(won, rep):
    response = api_for(rep).post(f"{API}/handovers/{won.pk}/submit/", format="json")
    assert response.status_code == 400
    assert "customer_expectations" in response.json()
    assert _state(won) == "draft"
    assert not Activity.objects.filter(event_type="handover.submitted").exists()


def test_approval_is_refused_while_a_promise_is_unreviewed(won, rep, salesmgr):
    submitted(won, rep)
    response = api_for(salesmgr).post(f"{API}/handovers/{won.pk}/approve/", format="json")
    assert response.status_code == 400 and "promises" in response.json()
    assert _state(won) == "submitted"


def test_returning_needs_a_reason_and_emails_the_rep(
    won, rep, salesmgr, mailoutbox, django_capture_on_commit_callbacks
):
    submitted(won, rep)
    client = api_for(salesmgr)
    response = client.post(f"{API}/handovers/{won.pk}/return/", {"reason": " "}, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    assert _state(won) == "submitted"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{API}/handovers/{won.pk}/return/", {"reason": "Expectations are vague"},
                               format="json")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "returned" and response.json()["last_reason"] == "Expectations are vague"
    event = Activity.objects.get(event_type="handover.returned")
    assert (event.actor, event.body, event.data["from"]) == (salesmgr, "Expectations are vague", "submitted")
    assert [m.to for m in mailoutbox] == [[rep.email]]


def test_rejecting_sends_the_handover_back_with_the_reason(won, rep, salesmgr, deliverymgr):
    approved(won, rep, salesmgr)
    response = api_for(deliverymgr).post(f"{API}/handovers/{won.pk}/reject/", {"reason": "No capacity"},
                                         format="json")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "rejected" and response.json()["accept_deadline"] is None
    assert Activity.objects.filter(event_type="handover.rejected", body="No capacity").count() == 1


@pytest.mark.parametrize("payload", [{}, {"reason": ""}, {"reason": "x" * 2001}])
def test_rejecting_needs_a_reason(won, rep, salesmgr, deliverymgr, payload):
    approved(won, rep, salesmgr)
    response = api_for(deliverymgr).post(f"{API}/handovers/{won.pk}/reject/", payload, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    assert _state(won) == "sales_approved"


@pytest.mark.parametrize("owner", ["rep", "salesmgr", "inactive", 999999, None, "abc"])
def test_the_delivery_owner_must_be_an_active_delivery_team_member(
    request, won, rep, salesmgr, deliverymgr, promise, owner
):
    approved(won, rep, salesmgr)
    services.promise_review(promise=promise, by=deliverymgr, verdict="feasible")
    if owner == "inactive":
        owner = make_user("gone", "Delivery team member", is_active=False).pk
    elif owner in ("rep", "salesmgr"):
        owner = request.getfixturevalue(owner).pk
    body = {} if owner is None else {"delivery_owner": owner}
    response = api_for(deliverymgr).post(f"{API}/handovers/{won.pk}/accept/", body, format="json")
    assert response.status_code == 400, response.content
    assert "delivery_owner" in response.json()
    assert _state(won) == "sales_approved" and Handover.objects.get(pk=won.pk).delivery_owner is None


def test_acceptance_is_refused_while_a_promise_is_not_feasible(won, rep, salesmgr, deliverymgr, delivery, promise):
    approved(won, rep, salesmgr)
    services.promise_review(promise=promise, by=deliverymgr, verdict="not_feasible", comment="No installer")
    response = api_for(deliverymgr).post(f"{API}/handovers/{won.pk}/accept/", {"delivery_owner": delivery.pk},
                                         format="json")
    assert response.status_code == 400 and "promises" in response.json()
    assert _state(won) == "sales_approved"


TRANSITIONS = {
    "submit": ("rep", None),
    "approve": ("salesmgr", None),
    "return": ("salesmgr", {"reason": "Vague"}),
    "accept": ("deliverymgr", {"delivery_owner": "delivery"}),
    "reject": ("deliverymgr", {"reason": "No"}),
}


@pytest.mark.parametrize(
    ("action", "state"),
    [
        ("approve", "draft"),
        ("return", "draft"),
        ("accept", "draft"),
        ("reject", "draft"),
        ("submit", "submitted"),
        ("accept", "submitted"),
        ("reject", "submitted"),
        ("submit", "sales_approved"),
        ("approve", "sales_approved"),
        ("return", "sales_approved"),
        ("submit", "accepted"),
        ("approve", "accepted"),
        ("accept", "accepted"),
        ("reject", "accepted"),
        ("return", "accepted"),
    ],
)
def test_illegal_transitions_answer_409_and_change_nothing(
    request, action, state, won, rep, salesmgr, deliverymgr, delivery, promise
):
    if state != "draft":
        submitted(won, rep)
    if state in ("sales_approved", "accepted"):
        services.promise_review(promise=promise, by=salesmgr, verdict="ok")
        services.handover_approve(handover=won, by=salesmgr)
    if state == "accepted":
        services.promise_review(promise=promise, by=deliverymgr, verdict="feasible")
        flows.handover_accept(handover=won, by=deliverymgr, delivery_owner=delivery)
    who, body = TRANSITIONS[action]
    if body and body.get("delivery_owner"):
        body = {"delivery_owner": delivery.pk}
    events_before = Activity.objects.count()
    response = api_for(request.getfixturevalue(who)).post(f"{API}/handovers/{won.pk}/{action}/", body, format="json")
    assert response.status_code == 409, response.content
    assert _state(won) == state
    assert Activity.objects.count() == events_before


@pytest.mark.parametrize(
    ("action", "who"),
    [
        ("submit", "deliverymgr"),
        ("approve", "rep"),
        ("approve", "deliverymgr"),
        ("approve", "admin_user"),
        ("return", "rep"),
        ("return", "deliverymgr"),
        ("accept", "rep"),
        ("accept", "salesmgr"),
        ("reject", "salesmgr"),
        ("reject", "presales"),
    ],
)
def test_the_wrong_role_answers_403_and_changes_nothing(request, action, who, won, rep, salesmgr, delivery):
    state = "draft"
    if action in ("approve", "return"):
        submitted(won, rep)
        state = "submitted"
    elif action in ("accept", "reject"):
        approved(won, rep, salesmgr)
        state = "sales_approved"
    _, body = TRANSITIONS[action]
    if body and body.get("delivery_owner"):
        body = {"delivery_owner": delivery.pk}
    events_before = Activity.objects.count()
    response = api_for(request.getfixturevalue(who)).post(f"{API}/handovers/{won.pk}/{action}/", body, format="json")
    assert response.status_code == 403, response.content
    assert _state(won) == state
    assert Activity.objects.count() == events_before


def test_the_wrong_role_answers_403_before_checking_the_body(won, rep, salesmgr):
    submitted(won, rep)
    response = api_for(rep).post(f"{API}/handovers/{won.pk}/return/", {"reason": ""}, format="json")
    assert response.status_code == 403


def test_the_events_are_the_handovers_history_newest_first(won, rep, salesmgr, promise):
    services.promise_review(promise=promise, by=salesmgr, verdict="ok")
    submitted(won, rep)
    rows = _results(api_for(rep).get(f"{API}/handovers/{won.pk}/events/"))
    types = [row["event_type"] for row in rows]
    assert types[0] == "handover.submitted"
    assert {"handover.created", "handover.updated", "promise.recorded", "promise.review.sales"} <= set(types)
    assert all(t.startswith(("handover.", "promise.")) for t in types)
    assert "deal.won" not in types
    page = api_for(rep).get(f"{API}/handovers/{won.pk}/events/", {"page_size": 2}).json()
    assert page["count"] == len(rows) and len(page["results"]) == 2 and page["next"]
