"""The handover API for handovers: list, read and edit, what each user sees, mass assignment and
query budgets on the lists (reliability.md 1-5, 8, 9, 29)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from crm import services as crm_services
from crm.models import Activity, Deal
from flows import actions as flows
from handover import services
from handover.models import Handover, Promise, PromiseReview
from tests.scenarios import API, _ids, _results, api_for, submitted

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
