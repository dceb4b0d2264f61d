"""The handover API: happy paths for every endpoint and action, 404 for what a user cannot see,
403 for the wrong role, 400 that names the field and saves nothing, 409 on illegal transitions
with the state unchanged, mass assignment, side effects (events, acceptance emails after
commit) and query budgets on the lists (reliability.md 1-5, 8, 9, 15-19, 29)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from crm import services as crm_services
from crm.models import Account, AccountTeamMember, Activity, Deal
from flows import actions as flows
from handover import services
from handover.models import Handover, Promise, PromiseReview
from tests.scenarios import api_for, make_user

API = "/api/v1"


# --- Builders (as in tests/test_handover_services.py) ----------------------------------------


@pytest.fixture
def promise(deal, rep, account):
    return services.promise_record(
        deal=deal,
        by=rep,
        kind="deliverable",
        description="Two robot arms installed by 1 March",
        source="proposal",
        made_to=account.contacts.get(first_name="Alice"),
    )


@pytest.fixture
def won(deal, rep, promise):
    flows.deal_win(deal=deal, by=rep)
    return Handover.objects.get(deal=deal)


def ready_to_submit(handover, rep):
    return services.handover_update(
        handover=handover,
        by=rep,
        customer_expectations="Line 2 running before the spring peak.",
        meeting_at=timezone.now() - timedelta(hours=2),
        meeting_held=True,
        meeting_minutes="Walked through the plan.",
    )


def submitted(handover, rep):
    ready_to_submit(handover, rep)
    return services.handover_submit(handover=handover, by=rep)


def approved(handover, rep, salesmgr):
    submitted(handover, rep)
    for p in Promise.objects.filter(deal=handover.deal):
        services.promise_review(promise=p, by=salesmgr, verdict="ok")
    return services.handover_approve(handover=handover, by=salesmgr)


def _results(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def _ids(response: Any) -> set[int]:
    return {row["id"] for row in _results(response)}


def _state(handover: Handover) -> str:
    return Handover.objects.get(pk=handover.pk).state


# --- Promises: create, list, read, edit -----------------------------------------------------


def test_a_rep_records_a_promise_and_is_its_maker(deal, rep, account):
    alice = account.contacts.get(first_name="Alice")
    body = {"deal": deal.pk, "kind": "timeline", "description": "Live by May", "source": "call",
            "made_to": alice.pk, "due_date": "2030-05-01", "source_reference": "Call with Alice"}
    response = api_for(rep).post(f"{API}/promises/", body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    promise = Promise.objects.get(pk=data["id"])
    assert promise.made_by == rep and promise.deal == deal and promise.account == account
    assert data["made_by"] == rep.pk and data["made_to_name"] == "Alice Martin" and data["state"] == "active"
    assert data["reviews"] == [] and data["latest_sales_review"] is None and data["latest_feasibility_review"] is None
    assert Activity.objects.filter(event_type="promise.recorded", data__promise=promise.pk).count() == 1


def test_a_presales_consultant_on_the_team_records_promises(deal, presales):
    body = {"deal": deal.pk, "kind": "other", "description": "Weekly calls", "source": "demo"}
    response = api_for(presales).post(f"{API}/promises/", body, format="json")
    assert response.status_code == 201, response.content
    assert Promise.objects.get().made_by == presales


def test_recording_on_a_deal_you_cannot_see_answers_400_and_saves_nothing(other_deal, rep):
    body = {"deal": other_deal.pk, "kind": "other", "description": "x", "source": "call"}
    response = api_for(rep).post(f"{API}/promises/", body, format="json")
    assert response.status_code == 400
    assert "deal" in response.json()
    assert not Promise.objects.exists()


@pytest.mark.parametrize("who", ["salesmgr", "deliverymgr", "delivery", "admin_user"])
def test_only_reps_and_presales_record_promises(request, deal, who):
    user = request.getfixturevalue(who)
    body = {"deal": deal.pk, "kind": "other", "description": "x", "source": "call"}
    assert api_for(user).post(f"{API}/promises/", body, format="json").status_code == 403
    assert not Promise.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"kind": "bribe"}, "kind"),
        ({"source": "telepathy"}, "source"),
        ({"description": ""}, "description"),
        ({"description": "x" * 5001}, "description"),
        ({"due_date": "next week"}, "due_date"),
        ({"made_to": "other"}, "made_to"),
        ({"made_to": 999999}, "made_to"),
        ({"source_reference": "x" * 201}, "source_reference"),
    ],
)
def test_bad_promise_input_answers_400_naming_the_field_and_saves_nothing(
    deal, rep, other_account, payload, field
):
    body = {"deal": deal.pk, "kind": "other", "description": "Fine", "source": "call", **payload}
    if body.get("made_to") == "other":
        # rep2's contact: another account's contact reads as not existing to rep.
        body["made_to"] = other_account.contacts.get().pk
    response = api_for(rep).post(f"{API}/promises/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Promise.objects.exists()


def test_a_promise_to_another_accounts_contact_is_refused_by_the_service(deal, other_account):
    # A rep who is also a manager sees every contact; the service still refuses another account's.
    rep_and_manager = make_user("both", "Sales rep", "Sales manager")
    AccountTeamMember.objects.create(account=deal.account, user=rep_and_manager, role="sales_rep")
    body = {"deal": deal.pk, "kind": "other", "description": "x", "source": "call",
            "made_to": other_account.contacts.get().pk}
    response = api_for(rep_and_manager).post(f"{API}/promises/", body, format="json")
    assert response.status_code == 400 and "made_to" in response.json()
    assert not Promise.objects.exists()


def test_the_promises_list_is_filtered_by_visibility_and_query(deal, other_deal, rep, rep2, salesmgr, promise):
    timeline = services.promise_record(deal=deal, by=rep, kind="timeline", description="May", source="call")
    theirs = services.promise_record(deal=other_deal, by=rep2, kind="other", description="Hi", source="demo")
    services.promise_withdraw(promise=timeline, by=rep, reason="Dropped")
    assert _ids(api_for(rep).get(f"{API}/promises/")) == {promise.pk, timeline.pk}
    assert _ids(api_for(rep2).get(f"{API}/promises/")) == {theirs.pk}
    client = api_for(salesmgr)
    assert _ids(client.get(f"{API}/promises/")) == {promise.pk, timeline.pk, theirs.pk}
    assert _ids(client.get(f"{API}/promises/", {"deal": deal.pk})) == {promise.pk, timeline.pk}
    assert _ids(client.get(f"{API}/promises/", {"account": other_deal.account_id})) == {theirs.pk}
    assert _ids(client.get(f"{API}/promises/", {"state": "withdrawn"})) == {timeline.pk}
    assert _ids(client.get(f"{API}/promises/", {"kind": "deliverable"})) == {promise.pk}
    response = client.get(f"{API}/promises/", {"state": "bogus"})
    assert response.status_code == 400 and "state" in response.json()


def test_a_promise_reads_with_its_reviews(promise, rep, salesmgr, deliverymgr):
    services.promise_review(promise=promise, by=salesmgr, verdict="at_risk", comment="Tight")
    services.promise_review(promise=promise, by=deliverymgr, verdict="feasible")
    data = api_for(rep).get(f"{API}/promises/{promise.pk}/").json()
    assert [(r["kind"], r["verdict"], r["reviewer"]) for r in data["reviews"]] == [
        ("sales", "at_risk", salesmgr.pk), ("feasibility", "feasible", deliverymgr.pk),
    ]
    assert data["reviews"][0]["comment"] == "Tight" and data["reviews"][0]["created_at"]
    assert data["latest_sales_review"]["verdict"] == "at_risk"
    assert data["latest_feasibility_review"]["reviewer_name"] == "Deliverymgr"


def test_editing_a_promise_writes_an_event(promise, rep):
    response = api_for(rep).patch(f"{API}/promises/{promise.pk}/", {"description": "Three arms"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["description"] == "Three arms"
    assert Promise.objects.get(pk=promise.pk).description == "Three arms"
    assert Activity.objects.filter(event_type="promise.updated", data__promise=promise.pk).count() == 1


def test_the_maker_state_and_deal_of_a_promise_cannot_be_mass_assigned(promise, rep, rep2, other_deal):
    body = {"state": "withdrawn", "made_by": rep2.pk, "deal": other_deal.pk, "account": other_deal.account_id,
            "made_at": "2001-01-01T00:00:00Z", "withdrawn_reason": "x", "outcome_at": "2001-01-01T00:00:00Z",
            "reviews": [{"kind": "sales", "verdict": "ok"}], "description": "Changed"}
    response = api_for(rep).patch(f"{API}/promises/{promise.pk}/", body, format="json")
    assert response.status_code == 200, response.content
    fresh = Promise.objects.get(pk=promise.pk)
    assert (fresh.state, fresh.made_by, fresh.deal_id, fresh.withdrawn_reason, fresh.outcome_at) == (
        "active", rep, promise.deal_id, "", None,
    )
    assert fresh.made_at == promise.made_at and fresh.description == "Changed"
    assert not PromiseReview.objects.exists()


def test_a_sales_manager_cannot_edit_a_promise(promise, salesmgr):
    response = api_for(salesmgr).patch(f"{API}/promises/{promise.pk}/", {"description": "Mine"}, format="json")
    assert response.status_code == 403
    assert Promise.objects.get(pk=promise.pk).description == promise.description


def test_bad_promise_edit_answers_400_and_saves_nothing(promise, rep):
    response = api_for(rep).patch(f"{API}/promises/{promise.pk}/", {"kind": "bribe"}, format="json")
    assert response.status_code == 400 and "kind" in response.json()
    assert Promise.objects.get(pk=promise.pk).kind == "deliverable"


def test_a_promise_cannot_be_edited_once_the_handover_is_submitted(won, rep, promise):
    submitted(won, rep)
    response = api_for(rep).patch(f"{API}/promises/{promise.pk}/", {"description": "Sneaky"}, format="json")
    assert response.status_code == 409
    assert Promise.objects.get(pk=promise.pk).description == promise.description


def test_promises_are_never_deleted_or_replaced(promise, rep):
    assert api_for(rep).delete(f"{API}/promises/{promise.pk}/").status_code == 405
    assert api_for(rep).put(f"{API}/promises/{promise.pk}/", {}, format="json").status_code == 405
    assert Promise.objects.filter(pk=promise.pk).exists()


# --- Promise reviews, resets, withdrawals ---------------------------------------------------


def test_the_reviewers_role_decides_the_review_and_the_latest_counts(promise, salesmgr, deliverymgr):
    url = f"{API}/promises/{promise.pk}/review/"
    assert api_for(salesmgr).post(url, {"verdict": "at_risk", "comment": "Tight"}, format="json").status_code == 200
    response = api_for(salesmgr).post(url, {"verdict": "ok"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["latest_sales_review"]["verdict"] == "ok"
    response = api_for(deliverymgr).post(url, {"verdict": "feasible", "comment": "Fine"}, format="json")
    data = response.json()
    assert data["latest_feasibility_review"]["verdict"] == "feasible" and len(data["reviews"]) == 3
    assert data["latest_feasibility_review"]["reviewer"] == deliverymgr.pk
    assert Activity.objects.filter(event_type="promise.review.sales").count() == 2
    assert Activity.objects.filter(event_type="promise.review.feasibility").count() == 1


def test_a_manager_with_both_roles_names_the_kind(promise):
    both = make_user("both", "Sales manager", "Delivery manager")
    url = f"{API}/promises/{promise.pk}/review/"
    response = api_for(both).post(url, {"verdict": "feasible", "kind": "feasibility"}, format="json")
    assert response.status_code == 200, response.content
    assert PromiseReview.objects.get().kind == "feasibility"


def test_a_sales_manager_cannot_make_a_feasibility_review(promise, salesmgr):
    url = f"{API}/promises/{promise.pk}/review/"
    response = api_for(salesmgr).post(url, {"verdict": "feasible", "kind": "feasibility"}, format="json")
    assert response.status_code == 403
    assert not PromiseReview.objects.exists()


@pytest.mark.parametrize("who", ["rep", "presales", "delivery", "admin_user"])
def test_only_managers_review_promises(request, promise, who):
    user = request.getfixturevalue(who)
    response = api_for(user).post(f"{API}/promises/{promise.pk}/review/", {"verdict": "ok"}, format="json")
    assert response.status_code == (404 if who == "delivery" else 403)
    assert not PromiseReview.objects.exists()


@pytest.mark.parametrize(
    ("who", "payload", "field"),
    [
        ("salesmgr", {"verdict": "feasible"}, "verdict"),
        ("deliverymgr", {"verdict": "ok"}, "verdict"),
        ("salesmgr", {"verdict": "bogus"}, "verdict"),
        ("salesmgr", {}, "verdict"),
        ("salesmgr", {"verdict": "not_acceptable"}, "comment"),
        ("deliverymgr", {"verdict": "not_feasible", "comment": "  "}, "comment"),
        ("salesmgr", {"verdict": "ok", "comment": "x" * 2001}, "comment"),
        ("salesmgr", {"verdict": "ok", "kind": "gut_feeling"}, "kind"),
    ],
)
def test_bad_review_input_answers_400_naming_the_field_and_saves_nothing(request, promise, who, payload, field):
    user = request.getfixturevalue(who)
    response = api_for(user).post(f"{API}/promises/{promise.pk}/review/", payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not PromiseReview.objects.exists()


def test_a_withdrawn_promise_is_not_reviewed(promise, rep, salesmgr):
    services.promise_withdraw(promise=promise, by=rep, reason="Dropped")
    response = api_for(salesmgr).post(f"{API}/promises/{promise.pk}/review/", {"verdict": "ok"}, format="json")
    assert response.status_code == 409
    assert not PromiseReview.objects.exists()


def test_reviews_close_when_the_handover_is_accepted(won, rep, salesmgr, deliverymgr, delivery, promise):
    approved(won, rep, salesmgr)
    services.promise_review(promise=promise, by=deliverymgr, verdict="feasible")
    flows.handover_accept(handover=won, by=deliverymgr, delivery_owner=delivery)
    response = api_for(salesmgr).post(f"{API}/promises/{promise.pk}/review/", {"verdict": "at_risk"}, format="json")
    assert response.status_code == 409
    assert PromiseReview.objects.count() == 2


def test_a_sales_manager_documents_an_expectation_reset(promise, salesmgr, account):
    alice = account.contacts.get(first_name="Alice")
    today = str(timezone.localdate())
    body = {"expectation": "Installed by 15 March", "agreed_by": alice.pk, "agreed_on": today}
    response = api_for(salesmgr).post(f"{API}/promises/{promise.pk}/reset/", body, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["state"] == "reset" and data["reset_expectation"] == "Installed by 15 March"
    assert data["reset_agreed_by"] == alice.pk and data["reset_agreed_on"] == today
    assert data["made_by"] == promise.made_by_id
    assert Activity.objects.filter(event_type="promise.reset", data__promise=promise.pk).count() == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"expectation": ""}, "expectation"),
        ({"expectation": "   "}, "expectation"),
        ({"agreed_by": None}, "agreed_by"),
        ({"agreed_by": "other"}, "agreed_by"),
        ({"agreed_on": "2999-01-01"}, "agreed_on"),
        ({"agreed_on": "yesterday"}, "agreed_on"),
    ],
)
def test_bad_reset_input_answers_400_naming_the_field_and_changes_nothing(
    promise, rep, account, other_account, payload, field
):
    body = {"expectation": "March", "agreed_by": account.contacts.first().pk,
            "agreed_on": str(timezone.localdate()), **payload}
    if body["agreed_by"] == "other":
        body["agreed_by"] = other_account.contacts.get().pk
    response = api_for(rep).post(f"{API}/promises/{promise.pk}/reset/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert Promise.objects.get(pk=promise.pk).state == "active"
    assert not Activity.objects.filter(event_type="promise.reset").exists()


def test_a_reset_promise_cannot_be_reset_again(promise, rep, account):
    body = {"expectation": "March", "agreed_by": account.contacts.first().pk, "agreed_on": str(timezone.localdate())}
    url = f"{API}/promises/{promise.pk}/reset/"
    assert api_for(rep).post(url, body, format="json").status_code == 200
    response = api_for(rep).post(url, {**body, "expectation": "April"}, format="json")
    assert response.status_code == 409
    assert Promise.objects.get(pk=promise.pk).reset_expectation == "March"


def test_withdrawing_a_promise_keeps_it_with_the_reason(promise, rep):
    response = api_for(rep).post(f"{API}/promises/{promise.pk}/withdraw/", {"reason": "Customer dropped it"},
                                 format="json")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "withdrawn" and response.json()["withdrawn_reason"] == "Customer dropped it"
    assert Promise.objects.get(pk=promise.pk).state == "withdrawn"
    assert Activity.objects.filter(event_type="promise.withdrawn").count() == 1
    again = api_for(rep).post(f"{API}/promises/{promise.pk}/withdraw/", {"reason": "Again"}, format="json")
    assert again.status_code == 409
    assert Promise.objects.get(pk=promise.pk).withdrawn_reason == "Customer dropped it"


@pytest.mark.parametrize("payload", [{}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 2001}])
def test_withdrawing_needs_a_reason(promise, rep, payload):
    response = api_for(rep).post(f"{API}/promises/{promise.pk}/withdraw/", payload, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    assert Promise.objects.get(pk=promise.pk).state == "active"


@pytest.mark.parametrize("action", ["reset", "withdraw"])
def test_a_delivery_manager_cannot_reset_or_withdraw(promise, deliverymgr, account, action):
    body = {"reason": "x", "expectation": "x", "agreed_by": account.contacts.first().pk,
            "agreed_on": str(timezone.localdate())}
    response = api_for(deliverymgr).post(f"{API}/promises/{promise.pk}/{action}/", body, format="json")
    assert response.status_code == 403
    assert Promise.objects.get(pk=promise.pk).state == "active"


# --- Handovers: list, read, edit ------------------------------------------------------------


def test_the_handovers_list_is_filtered_by_visibility_and_query(won, other_deal, rep, rep2, salesmgr):
    flows.deal_win(deal=other_deal, by=rep2)
    theirs = Handover.objects.get(deal=other_deal)
    submitted(won, rep)
    assert _ids(api_for(rep).get(f"{API}/handovers/")) == {won.pk}
    assert _ids(api_for(rep2).get(f"{API}/handovers/")) == {theirs.pk}
    client = api_for(salesmgr)
    assert _ids(client.get(f"{API}/handovers/")) == {won.pk, theirs.pk}
    assert _ids(client.get(f"{API}/handovers/", {"state": "submitted"})) == {won.pk}
    assert _ids(client.get(f"{API}/handovers/", {"rep": rep2.pk})) == {theirs.pk}
    assert _ids(client.get(f"{API}/handovers/", {"account": won.account_id})) == {won.pk}
    assert _ids(client.get(f"{API}/handovers/", {"rep": 2**64})) == set()
    response = client.get(f"{API}/handovers/", {"state": "lost"})
    assert response.status_code == 400 and "state" in response.json()


def test_a_handover_reads_with_what_it_is_waiting_for(won, rep, salesmgr):
    data = api_for(rep).get(f"{API}/handovers/{won.pk}/").json()
    assert data["state"] == "draft" and data["deal"] == won.deal_id and data["rep"] == rep.pk
    assert {c["contact_name"] for c in data["contacts"]} == {"Alice Martin", "Bruno Petit"}
    assert data["waiting_for"]["next_step"] == "submit"
    assert "customer_expectations" in data["waiting_for"]["blockers"]
    submitted(won, rep)
    data = api_for(rep).get(f"{API}/handovers/{won.pk}/").json()
    assert data["waiting_for"] == {"next_step": "approve", "blockers": {"promises": "Review every promise first."}}


def test_the_rep_completes_the_handover(won, rep, account, presales, delivery):
    alice = account.contacts.get(first_name="Alice")
    meeting = timezone.now() - timedelta(days=1)
    body = {
        "purchased": "Two arms", "customer_expectations": "Running by spring", "risks": "Tight schedule",
        "contacts": [{"contact": alice.pk, "delivery_role": "Project lead"}],
        "vendor_attendees": [rep.pk, presales.pk], "customer_attendees": [alice.pk],
        "meeting_at": meeting.isoformat(), "meeting_held": True, "meeting_minutes": "Agreed the plan",
        "proposed_delivery_owner": delivery.pk,
    }
    response = api_for(rep).patch(f"{API}/handovers/{won.pk}/", body, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["contacts"] == [{"contact": alice.pk, "contact_name": "Alice Martin", "delivery_role": "Project lead"}]
    assert set(data["vendor_attendees"]) == {rep.pk, presales.pk} and data["customer_attendees"] == [alice.pk]
    assert data["waiting_for"] == {"next_step": "submit", "blockers": {}}
    handover = Handover.objects.get(pk=won.pk)
    assert (handover.purchased, handover.risks, handover.meeting_held, handover.proposed_delivery_owner) == (
        "Two arms", "Tight schedule", True, delivery,
    )
    event = Activity.objects.get(event_type="handover.updated")
    assert {"contacts", "purchased", "vendor_attendees"} <= set(event.data["changed"])


def test_handover_state_owner_and_dates_cannot_be_mass_assigned(won, rep, rep2, delivery):
    body = {"state": "accepted", "delivery_owner": delivery.pk, "rep": rep2.pk, "made_by": rep2.pk,
            "accepted_at": "2001-01-01T00:00:00Z", "approved_at": "2001-01-01T00:00:00Z",
            "accept_deadline": "2001-01-01T00:00:00Z", "last_reason": "x", "deal": 1, "account": 1,
            "risks": "Only this changes"}
    response = api_for(rep).patch(f"{API}/handovers/{won.pk}/", body, format="json")
    assert response.status_code == 200, response.content
    fresh = Handover.objects.get(pk=won.pk)
    assert (fresh.state, fresh.delivery_owner, fresh.rep, fresh.accepted_at, fresh.approved_at) == (
        "draft", None, rep, None, None,
    )
    assert (fresh.accept_deadline, fresh.last_reason, fresh.deal_id, fresh.risks) == (
        None, "", won.deal_id, "Only this changes",
    )


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"contacts": [{"contact": "other"}]}, "contacts"),
        ({"contacts": [{"contact": "alice"}, {"contact": "alice"}]}, "contacts"),
        ({"contacts": [{"contact": "alice", "delivery_role": "x" * 121}]}, "contacts"),
        ({"contacts": "not a list"}, "contacts"),
        ({"contacts": [{"delivery_role": "Lead"}]}, "contacts"),
        ({"customer_attendees": ["other"]}, "customer_attendees"),
        ({"customer_attendees": [999999]}, "customer_attendees"),
        ({"vendor_attendees": [999999]}, "vendor_attendees"),
        ({"proposed_delivery_owner": "rep"}, "proposed_delivery_owner"),
        ({"meeting_held": True, "meeting_at": None}, "meeting_at"),
        ({"meeting_held": True, "meeting_at": "2999-01-01T10:00:00Z"}, "meeting_held"),
        ({"meeting_at": "soon"}, "meeting_at"),
        ({"purchased": "x" * 10001}, "purchased"),
    ],
)
def test_bad_handover_input_answers_400_naming_the_field_and_saves_nothing(
    won, rep, account, other_account, payload, field
):
    names = {"other": other_account.contacts.get().pk, "alice": account.contacts.get(first_name="Alice").pk,
             "rep": rep.pk}

    def resolve(value: Any) -> Any:
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        return names.get(value, value) if isinstance(value, str) else value

    payload = resolve(payload)
    before = (won.contacts.count(), Activity.objects.count())
    response = api_for(rep).patch(f"{API}/handovers/{won.pk}/", payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    fresh = Handover.objects.get(pk=won.pk)
    assert (fresh.contacts.count(), Activity.objects.count()) == before
    assert (fresh.meeting_held, fresh.proposed_delivery_owner, fresh.purchased) == (False, None, won.purchased)
    assert not fresh.customer_attendees.exists() and not fresh.vendor_attendees.exists()


def test_a_delivery_manager_cannot_edit_a_handover(won, deliverymgr):
    response = api_for(deliverymgr).patch(f"{API}/handovers/{won.pk}/", {"risks": "Mine"}, format="json")
    assert response.status_code == 403
    assert Handover.objects.get(pk=won.pk).risks == ""


def test_a_submitted_handover_cannot_be_edited(won, rep):
    submitted(won, rep)
    response = api_for(rep).patch(f"{API}/handovers/{won.pk}/", {"risks": "Late edit"}, format="json")
    assert response.status_code == 409
    assert Handover.objects.get(pk=won.pk).risks == ""


def test_handovers_are_not_created_deleted_or_replaced_through_the_api(won, rep):
    client = api_for(rep)
    assert client.post(f"{API}/handovers/", {"deal": won.deal_id}, format="json").status_code == 405
    assert client.delete(f"{API}/handovers/{won.pk}/").status_code == 405
    assert client.put(f"{API}/handovers/{won.pk}/", {}, format="json").status_code == 405
    assert Handover.objects.filter(pk=won.pk).exists()


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


# --- Visibility -----------------------------------------------------------------------------


OUTSIDER_OPERATIONS = [
    ("get", "/promises/{promise}/", None),
    ("patch", "/promises/{promise}/", {"description": "Mine"}),
    ("post", "/promises/{promise}/review/", {"verdict": "ok"}),
    ("post", "/promises/{promise}/reset/", {"expectation": "x", "agreed_by": "contact", "agreed_on": "2020-01-01"}),
    ("post", "/promises/{promise}/withdraw/", {"reason": "Sabotage"}),
    ("get", "/handovers/{handover}/", None),
    ("patch", "/handovers/{handover}/", {"risks": "Mine"}),
    ("get", "/handovers/{handover}/events/", None),
    ("post", "/handovers/{handover}/submit/", None),
    ("post", "/handovers/{handover}/approve/", None),
    ("post", "/handovers/{handover}/return/", {"reason": "x"}),
    ("post", "/handovers/{handover}/accept/", {"delivery_owner": "me"}),
    ("post", "/handovers/{handover}/reject/", {"reason": "x"}),
]


@pytest.mark.parametrize(("method", "template", "body"), OUTSIDER_OPERATIONS)
@pytest.mark.parametrize("persona", ["rep2", "delivery", "outsider"])
def test_another_reps_promises_and_handovers_answer_404_and_stay_unchanged(
    request, won, promise, account, persona, method, template, body
):
    user = request.getfixturevalue(persona)
    url = API + template.format(promise=promise.pk, handover=won.pk)
    if body:
        body = {k: (user.pk if v == "me" else account.contacts.first().pk if v == "contact" else v)
                for k, v in body.items()}

    def snapshot() -> tuple[Any, ...]:
        p = Promise.objects.get(pk=promise.pk)
        h = Handover.objects.get(pk=won.pk)
        return (p.state, p.description, h.state, h.risks, Activity.objects.count(), PromiseReview.objects.count())

    before = snapshot()
    response = getattr(api_for(user), method)(url, body, format="json")
    assert response.status_code == 404, (url, response.content)
    assert snapshot() == before


def test_a_missing_object_and_a_hidden_one_answer_alike(won, promise, rep2):
    for kind, pk in (("promises", promise.pk), ("handovers", won.pk)):
        hidden = api_for(rep2).get(f"{API}/{kind}/{pk}/")
        missing = api_for(rep2).get(f"{API}/{kind}/999999/")
        junk = api_for(rep2).get(f"{API}/{kind}/0.5/")
        assert hidden.status_code == missing.status_code == junk.status_code == 404
        assert hidden.json() == missing.json() == junk.json()


def test_the_api_answers_401_without_credentials(won, promise):
    assert APIClient().get(f"{API}/promises/").status_code == 401
    assert APIClient().post(f"{API}/handovers/{won.pk}/submit/").status_code == 401


# --- Query budgets --------------------------------------------------------------------------


@pytest.fixture
def big_ledger(account, rep, salesmgr, deliverymgr) -> None:
    """35 won deals on rep's account, each with its handover and a reviewed promise."""
    contact = account.contacts.first()
    for i in range(35):
        deal = crm_services.deal_create(
            account=account, by=rep, name=f"Deal {i}",
            line_items=[{"name": "A", "quantity": 1, "unit_price": 1}],
        )
        promise = services.promise_record(deal=deal, by=rep, kind="other", description=f"Promise {i}",
                                          source="call", made_to=contact)
        services.promise_review(promise=promise, by=salesmgr, verdict="ok")
        services.promise_review(promise=promise, by=deliverymgr, verdict="feasible")
        flows.deal_win(deal=deal, by=rep)
        handover = Handover.objects.get(deal=deal)
        services.handover_update(handover=handover, by=rep, vendor_attendees=[rep], customer_attendees=[contact])
    assert Deal.objects.count() == Handover.objects.count() == Promise.objects.count() == 35


@pytest.mark.parametrize("path", ["promises", "handovers"])
def test_the_lists_take_a_fixed_number_of_queries(big_ledger, rep, salesmgr, path, django_assert_max_num_queries):
    # The rep sees the ledger through the team (a subquery); the manager sees everything.
    for user in (rep, salesmgr):
        client = api_for(user)
        with django_assert_max_num_queries(6):
            response = client.get(f"{API}/{path}/", {"page_size": 100})
        assert len(_results(response)) == 35
