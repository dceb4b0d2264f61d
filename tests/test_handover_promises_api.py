"""The handover API for promises: recording, listing, reading and editing them, and their reviews,
resets and withdrawals; 404 for what a user cannot see, 403 for the wrong role, 400 that names
the field and saves nothing (reliability.md 1-5, 8, 9)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from crm.models import AccountTeamMember, Activity
from flows import actions as flows
from handover import services
from handover.models import Promise, PromiseReview
from tests.scenarios import API, _ids, api_for, approved, make_user, submitted

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
