"""The delivery API for stages: list, read, edit, and the actions (start, complete, request
sign-off, reopen) with their 400s, 403s, 409s and side effects."""

from __future__ import annotations

from typing import Any

import pytest

from crm import services as crm_services
from crm.models import Activity, Contact
from customer_links.models import CustomerLink
from delivery import services
from delivery.models import Project, SignOff, Stage
from flows import actions as flows
from handover import services as handover_services
from tests.scenarios import (
    API,
    _events,
    _ids,
    _raw_token,
    alice,
    answer,
    api_for,
    awaiting,
    promise_of,
    stage,
    started,
    their_project,
)

# --- Builders -----------------------------------------------------------------------------------


def complete_all(project: Project, owner: Any) -> None:
    contact = project.account.contacts.order_by("pk")[0]
    for s in project.stages.order_by("position"):
        services.stage_start(stage=s, by=owner)
        if not s.needs_signoff:
            flows.stage_complete(stage=s, by=owner)
            continue
        Contact.objects.filter(pk=contact.pk).update(role=s.signer_role)
        answer(services.stage_request_signoff(stage=s, by=owner, contact=contact, delivered="Done."),
               name=contact.full_name)
    assert Project.objects.get(pk=project.pk).state == "complete"


# --- Stages: list, read, edit -------------------------------------------------------------------


def test_stages_list_by_visibility_project_and_state(project, other_account, rep, rep2, salesmgr, deliverymgr, delivery):
    theirs = their_project(other_account, rep2, salesmgr, deliverymgr)
    first = started(project, 1, delivery)
    mine = set(project.stages.values_list("pk", flat=True))
    assert _ids(api_for(rep).get(f"{API}/stages/")) == mine
    assert _ids(api_for(rep2).get(f"{API}/stages/")) == set(theirs.stages.values_list("pk", flat=True))
    client = api_for(salesmgr)
    assert len(_ids(client.get(f"{API}/stages/"))) == 10
    assert _ids(client.get(f"{API}/stages/", {"project": project.pk})) == mine
    assert _ids(client.get(f"{API}/stages/", {"state": "in_progress"})) == {first.pk}
    assert _ids(client.get(f"{API}/stages/", {"project": project.pk, "state": "planned"})) == mine - {first.pk}
    bad = client.get(f"{API}/stages/", {"state": "finished"})
    assert bad.status_code == 400 and "state" in bad.json()


def test_a_stage_reads_with_its_promises_signoffs_and_link(project, rep, delivery):
    first = stage(project, 1)
    services.stage_set_promises(stage=first, by=delivery, promises=[promise_of(project)])
    data = api_for(rep).get(f"{API}/stages/{first.pk}/").json()
    assert data["promises"] == [promise_of(project).pk] and data["signoffs"] == [] and data["signoff_link"] is None
    assert data["covered_promises"][0]["made_by"] == rep.pk
    assert data["covered_promises"][0]["description"] == "Two robot arms installed by 1 March"


def test_the_delivery_owner_edits_a_stage_with_an_event(project, delivery):
    first = stage(project, 1)
    made = promise_of(project)
    body = {"due_date": "2031-02-03", "description": "Agree the plan.", "delivered": "Plan agreed.",
            "promises": [made.pk]}
    response = api_for(delivery).patch(f"{API}/stages/{first.pk}/", body, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["due_date"], data["description"], data["delivered"], data["promises"]) == (
        "2031-02-03", "Agree the plan.", "Plan agreed.", [made.pk],
    )
    fresh = Stage.objects.get(pk=first.pk)
    assert str(fresh.due_date) == "2031-02-03" and list(fresh.promises.all()) == [made]
    assert Activity.objects.filter(event_type="delivery.stage.updated", data__stage=first.pk).count() == 2
    cleared = api_for(delivery).patch(f"{API}/stages/{first.pk}/", {"promises": [], "due_date": None}, format="json")
    assert cleared.status_code == 200 and cleared.json()["promises"] == [] and cleared.json()["due_date"] is None


def test_stage_state_signer_and_dates_cannot_be_mass_assigned(project, delivery, rep, other_account):
    first = stage(project, 1)
    body = {"state": "signed_off", "signed_off_at": "2001-01-01T00:00:00Z", "signer": alice(project).pk,
            "project": 999, "account": other_account.pk, "position": 9, "name": "Renamed", "needs_signoff": False,
            "signer_role": "user", "started_at": "2001-01-01T00:00:00Z", "done_at": "2001-01-01T00:00:00Z",
            "changes_reason": "x", "signoffs": [{"typed_name": "Forged"}], "signoff_link": {"id": 1},
            "description": "Changed"}
    response = api_for(delivery).patch(f"{API}/stages/{first.pk}/", body, format="json")
    assert response.status_code == 200, response.content
    fresh = Stage.objects.get(pk=first.pk)
    assert (fresh.state, fresh.signed_off_at, fresh.signer_id, fresh.project_id, fresh.account_id) == (
        "planned", None, None, project.pk, project.account_id,
    )
    assert (fresh.position, fresh.name, fresh.needs_signoff, fresh.signer_role) == (1, "Kickoff", True, "decision_maker")
    assert (fresh.started_at, fresh.done_at, fresh.changes_reason) == (None, None, "")
    assert fresh.description == "Changed" and not SignOff.objects.exists() and not CustomerLink.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"due_date": "next week"}, "due_date"),
        ({"due_date": "1999-12-31"}, "due_date"),
        ({"due_date": 20300101}, "due_date"),
        ({"description": "x" * 2001}, "description"),
        ({"delivered": "x" * 5001}, "delivered"),
        ({"delivered": ["a list"]}, "delivered"),
        ({"promises": [999999]}, "promises"),
        ({"promises": ["abc"]}, "promises"),
        ({"promises": "abc"}, "promises"),
        ({"promises": [0]}, "promises"),
        ({"promises": list(range(1, 202))}, "promises"),
        ({"promises": "theirs"}, "promises"),
        ({"promises": "other_deal", "description": "Sneaky"}, "promises"),
    ],
)
def test_bad_stage_edits_answer_400_naming_the_field_and_change_nothing(
    project, delivery, deliverymgr, rep, rep2, other_deal, payload, field
):
    first = stage(project, 1)
    if payload.get("promises") == "theirs":
        # rep2's promise: invisible to the delivery owner, so it reads as not existing.
        payload = {"promises": [handover_services.promise_record(
            deal=other_deal, by=rep2, kind="other", description="Free coffee", source="call").pk]}
    if payload.get("promises") == "other_deal":
        # A promise of another deal on the same account: visible, but not this project's deal.
        second = crm_services.deal_create(account=project.account, by=rep, name="Acme line 3")
        other = handover_services.promise_record(deal=second, by=rep, kind="other", description="Spare", source="call")
        payload = {**payload, "promises": [other.pk]}
    before = Stage.objects.get(pk=first.pk)
    events = _events("delivery.stage")
    response = api_for(deliverymgr).patch(f"{API}/stages/{first.pk}/", payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    fresh = Stage.objects.get(pk=first.pk)
    assert (fresh.due_date, fresh.description, fresh.delivered) == (before.due_date, before.description, before.delivered)
    assert not fresh.promises.exists() and _events("delivery.stage") == events


@pytest.mark.parametrize("who", ["rep", "presales", "salesmgr"])
def test_only_the_delivery_side_edits_stages(request, project, who):
    first = stage(project, 1)
    user = request.getfixturevalue(who)
    response = api_for(user).patch(f"{API}/stages/{first.pk}/", {"description": "Mine"}, format="json")
    assert response.status_code == 403
    assert Stage.objects.get(pk=first.pk).description == first.description


def test_the_wrong_role_answers_403_before_checking_the_body(project, rep):
    first = stage(project, 1)
    assert api_for(rep).patch(f"{API}/stages/{first.pk}/", {"due_date": "junk"}, format="json").status_code == 403
    body = {"contact": "junk", "delivered": "x" * 6000}
    assert api_for(rep).post(f"{API}/stages/{first.pk}/request-signoff/", body, format="json").status_code == 403


def test_a_complete_delivery_answers_409_to_every_stage_change(equipment, delivery, deliverymgr):
    complete_all(equipment, delivery)
    first = stage(equipment, 1)
    events = Activity.objects.count()
    client = api_for(deliverymgr)
    assert client.patch(f"{API}/stages/{first.pk}/", {"description": "Late"}, format="json").status_code == 409
    for action in ("start", "complete"):
        assert client.post(f"{API}/stages/{first.pk}/{action}/").status_code == 409
    assert Stage.objects.get(pk=first.pk).description == first.description and Activity.objects.count() == events
    data = client.get(f"{API}/projects/{equipment.pk}/").json()
    assert data["state"] == "complete" and {st["state"] for st in data["stages"]} == {"done", "signed_off"}


def test_stages_are_not_created_deleted_or_replaced(project, deliverymgr):
    first = stage(project, 1)
    client = api_for(deliverymgr)
    assert client.post(f"{API}/stages/", {"project": project.pk, "name": "Extra"}, format="json").status_code == 405
    assert client.put(f"{API}/stages/{first.pk}/", {"name": "X"}, format="json").status_code == 405
    assert client.delete(f"{API}/stages/{first.pk}/").status_code == 405
    assert Stage.objects.filter(project=project).count() == 5


# --- Stages: actions ----------------------------------------------------------------------------


def test_starting_a_stage_writes_an_event_and_twice_answers_409(project, delivery):
    first = stage(project, 1)
    response = api_for(delivery).post(f"{API}/stages/{first.pk}/start/")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "in_progress" and response.json()["started_at"]
    assert Activity.objects.filter(event_type="delivery.stage.in_progress", data__stage=first.pk).count() == 1
    again = api_for(delivery).post(f"{API}/stages/{first.pk}/start/")
    assert again.status_code == 409
    assert Stage.objects.get(pk=first.pk).state == "in_progress"
    assert Activity.objects.filter(event_type="delivery.stage.in_progress").count() == 1


def test_requesting_signoff_emails_a_link_whose_token_never_reaches_the_api(
    project, delivery, rep, mailoutbox, django_capture_on_commit_callbacks
):
    first = started(project, 1, delivery)
    body = {"contact": alice(project).pk, "delivered": "Kickoff held; plan agreed."}
    with django_capture_on_commit_callbacks(execute=True):
        response = api_for(delivery).post(f"{API}/stages/{first.pk}/request-signoff/", body, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["state"] == "awaiting_signoff" and data["signer"] == alice(project).pk
    assert data["delivered"] == "Kickoff held; plan agreed." and data["signoff_requested_at"]
    link = CustomerLink.objects.get()
    assert data["signoff_link"]["id"] == link.pk and data["signoff_link"]["contact_name"] == "Alice Martin"
    assert data["signoff_link"]["expires_at"] and data["signoff_link"]["revoked_at"] is None
    assert [m.to for m in mailoutbox] == [["alice@acme.example"]]
    raw = _raw_token(mailoutbox, "/c/signoff/open/")
    # The token (and its hash) never appear in an answer; the link's dates do.
    later = api_for(rep).get(f"{API}/stages/{first.pk}/")
    for content in (response.content.decode(), later.content.decode()):
        assert raw not in content and link.token_hash not in content and "token" not in content
    assert later.json()["signoff_link"]["emailed_at"] is not None
    assert Activity.objects.filter(event_type="delivery.stage.awaiting_signoff", data__stage=first.pk).count() == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"contact": "absent"}, "contact"),
        ({"contact": None}, "contact"),
        ({"contact": "Alice"}, "contact"),
        ({"contact": 999999}, "contact"),
        ({"contact": "bruno"}, "contact"),  # a technical contact cannot sign a decision maker's stage
        ({"contact": "theirs"}, "contact"),
        ({"delivered": "x" * 5001}, "delivered"),
        ({"delivered": ""}, "delivered"),
        ({"delivered": {"text": "Done"}}, "delivered"),
    ],
)
def test_bad_signoff_requests_answer_400_naming_the_field_and_change_nothing(
    project, delivery, other_account, payload, field, mailoutbox, django_capture_on_commit_callbacks
):
    first = started(project, 1, delivery)
    body = {"contact": alice(project).pk, "delivered": "Done", **payload}
    if body.get("contact") == "bruno":
        body["contact"] = project.account.contacts.get(first_name="Bruno").pk
    if body.get("contact") == "theirs":
        body["contact"] = other_account.contacts.get().pk
    if body.get("contact") == "absent":
        del body["contact"]
    events = _events("delivery.stage")
    with django_capture_on_commit_callbacks(execute=True):
        response = api_for(delivery).post(f"{API}/stages/{first.pk}/request-signoff/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    fresh = Stage.objects.get(pk=first.pk)
    assert (fresh.state, fresh.signer_id, fresh.delivered) == ("in_progress", None, "")
    assert not CustomerLink.objects.exists() and mailoutbox == [] and _events("delivery.stage") == events


def test_a_new_signoff_request_revokes_the_previous_link(project, delivery):
    _, old = awaiting(project, delivery)
    first = stage(project, 1)
    response = api_for(delivery).post(f"{API}/stages/{first.pk}/request-signoff/", {"contact": alice(project).pk},
                                      format="json")
    assert response.status_code == 200, response.content
    new = CustomerLink.objects.exclude(pk=old.pk).get()
    assert response.json()["signoff_link"]["id"] == new.pk
    assert CustomerLink.objects.get(pk=old.pk).revoked_at is not None
    assert response.json()["delivered"] == "Kickoff held."  # kept when left out


def test_the_customers_answers_show_in_the_stage_history(project, delivery, rep):
    _, link = awaiting(project, delivery)
    answer(link, signed_off=False, reason="The dates are wrong.")
    first = stage(project, 1)
    services.stage_start(stage=first, by=delivery)
    link = services.stage_request_signoff(stage=first, by=delivery, contact=alice(project))
    answer(link)
    data = api_for(rep).get(f"{API}/stages/{first.pk}/").json()
    assert data["state"] == "signed_off" and data["signed_off_at"]
    assert [(a["decision"], a["typed_name"], a["reason"], a["ip"]) for a in data["signoffs"]] == [
        ("changes_requested", "Alice Martin", "The dates are wrong.", "203.0.113.9"),
        ("signed_off", "Alice Martin", "", "203.0.113.9"),
    ]
    assert all(a["created_at"] and a["contact_name"] == "Alice Martin" for a in data["signoffs"])
    assert data["signoff_link"]["used_at"] is not None


@pytest.mark.parametrize(
    ("action", "state", "body"),
    [
        ("start", "in_progress", None),
        ("start", "awaiting_signoff", None),
        ("complete", "planned", None),
        ("complete", "in_progress", None),  # the customer signs this stage off
        ("request-signoff", "planned", {"contact": "alice", "delivered": "Done"}),
    ],
)
def test_illegal_stage_transitions_answer_409_and_change_nothing(project, delivery, action, state, body):
    if state == "in_progress":
        started(project, 1, delivery)
    elif state == "awaiting_signoff":
        awaiting(project, delivery)
    first = stage(project, 1)
    if body:
        body = {**body, "contact": alice(project).pk}
    before = (Activity.objects.count(), CustomerLink.objects.count())
    response = api_for(delivery).post(f"{API}/stages/{first.pk}/{action}/", body, format="json")
    assert response.status_code == 409, response.content
    assert Stage.objects.get(pk=first.pk).state == state
    assert (Activity.objects.count(), CustomerLink.objects.count()) == before


def test_a_stage_without_signoff_is_completed_by_its_owner(equipment, delivery):
    first = started(equipment, 1, delivery)
    url = f"{API}/stages/{first.pk}/request-signoff/"
    refused = api_for(delivery).post(url, {"contact": alice(equipment).pk, "delivered": "x"}, format="json")
    assert refused.status_code == 409 and not CustomerLink.objects.exists()
    response = api_for(delivery).post(f"{API}/stages/{first.pk}/complete/")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "done" and response.json()["done_at"]
    assert Activity.objects.filter(event_type="delivery.stage.done", data__stage=first.pk).count() == 1
    assert api_for(delivery).post(f"{API}/stages/{first.pk}/complete/").status_code == 409
    assert Activity.objects.filter(event_type="delivery.stage.done").count() == 1


@pytest.mark.parametrize("action", ["start", "request-signoff", "complete"])
@pytest.mark.parametrize("who", ["rep", "presales", "salesmgr"])
def test_the_wrong_role_cannot_move_stages(request, equipment, delivery, action, who):
    first = stage(equipment, 1 if action != "request-signoff" else 2)
    if action != "start":
        services.stage_start(stage=first, by=delivery)
    state = Stage.objects.get(pk=first.pk).state
    events = Activity.objects.count()
    body = {"contact": alice(equipment).pk, "delivered": "x"} if action == "request-signoff" else None
    response = api_for(request.getfixturevalue(who)).post(f"{API}/stages/{first.pk}/{action}/", body, format="json")
    assert response.status_code == 403
    assert Stage.objects.get(pk=first.pk).state == state and Activity.objects.count() == events


@pytest.mark.parametrize("who", ["deliverymgr", "admin_user"])
def test_delivery_managers_and_administrators_move_any_stage(request, project, who):
    first = stage(project, 1)
    response = api_for(request.getfixturevalue(who)).post(f"{API}/stages/{first.pk}/start/")
    assert response.status_code == 200 and Stage.objects.get(pk=first.pk).state == "in_progress"
