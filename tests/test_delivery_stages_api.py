"""The delivery API: happy paths for every endpoint and action, 404 for what a user cannot see,
403 for the wrong role, 400 that names the field and changes nothing, 409 on illegal
transitions with the state unchanged, mass assignment, events, the sign-off link's token never
in an answer, and query budgets on the lists (reliability.md 1-5, 8, 9, 15-19, 25-27, 29)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from crm import roles
from crm import services as crm_services
from crm.models import Activity, Contact
from customer_links.models import CustomerLink
from delivery import services
from delivery.models import PlanTemplate, PlanTemplateStage, Problem, Project, SignOff, Stage
from flows import actions as flows
from handover import services as handover_services
from handover.models import Promise
from tests.scenarios import accept_deal, api_for, make_user

API = "/api/v1"


# --- Builders -----------------------------------------------------------------------------------


def stage(project: Project, position: int) -> Stage:
    return project.stages.get(position=position)


def started(project: Project, position: int, by: Any) -> Stage:
    return services.stage_start(stage=stage(project, position), by=by)


def alice(project: Project) -> Contact:
    return project.account.contacts.get(first_name="Alice")


def awaiting(project: Project, by: Any) -> tuple[Stage, CustomerLink]:
    first = started(project, 1, by)
    link = services.stage_request_signoff(stage=first, by=by, contact=alice(project), delivered="Kickoff held.")
    return Stage.objects.get(pk=first.pk), link


def answer(link: CustomerLink, *, signed_off: bool = True, reason: str = "", name: str = "Alice Martin") -> SignOff:
    return flows.customer_answer(
        link=CustomerLink.objects.get(pk=link.pk), signed_off=signed_off, typed_name=name, reason=reason,
        ip="203.0.113.9", user_agent="Mail client",
    )


@pytest.fixture
def equipment(deal, rep, salesmgr, deliverymgr, delivery) -> Project:
    """rep's deal accepted with the "Equipment" plan: its first stage has no customer sign-off."""
    return accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery, plan="Equipment")


def their_project(other_account: Any, rep2: Any, salesmgr: Any, deliverymgr: Any) -> Project:
    """A delivery on rep2's account (rep and the delivery team member do not see it)."""
    deal = crm_services.deal_create(account=other_account, by=rep2, name="Globex roll-out",
                                    line_items=[{"name": "Licences", "quantity": 5, "unit_price": "100"}])
    owner = make_user("delivery2", roles.DELIVERY_TEAM)
    return accept_deal(deal, rep=rep2, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=owner)


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


def promise_of(project: Project) -> Promise:
    return Promise.objects.get(deal=project.deal)


def problem(project: Project, by: Any, **kwargs: Any) -> Problem:
    fields = {"title": "Arm 2 missing", "category": "delivery_defect", "severity": "high", "project": project,
              **kwargs}
    return services.problem_raise(account=project.account, by=by, **fields)


def _results(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def _ids(response: Any) -> set[int]:
    return {row["id"] for row in _results(response)}


def _events(prefix: str) -> int:
    return Activity.objects.filter(event_type__startswith=prefix).count()


def _raw_token(mailoutbox: Any, marker: str) -> str:
    [url] = [w for m in mailoutbox for w in m.body.split() if marker in w]
    return url.rstrip("/").rsplit("/", 1)[1]


# --- Plan templates -----------------------------------------------------------------------------


def test_plan_templates_list_with_their_stages_in_order(delivery):
    rows = _results(api_for(delivery).get(f"{API}/plan-templates/"))
    assert [r["name"] for r in rows] == ["Equipment", "Software rollout"]
    equipment = rows[0]
    assert [st["name"] for st in equipment["stages"]] == ["Order confirmed", "Delivered", "Installed", "Trained"]
    assert equipment["stages"][0]["needs_signoff"] is False and equipment["stages"][1]["signer_role"] == "user"
    one = api_for(delivery).get(f"{API}/plan-templates/{equipment['id']}/")
    assert one.status_code == 200 and one.json() == equipment


def test_plan_templates_filter_and_are_read_only(rep, admin_user):
    old = PlanTemplate.objects.create(name="Old plan", is_active=False)
    assert _ids(api_for(rep).get(f"{API}/plan-templates/", {"is_active": "false"})) == {old.pk}
    client = api_for(admin_user)
    assert client.post(f"{API}/plan-templates/", {"name": "Mine"}, format="json").status_code == 405
    assert client.patch(f"{API}/plan-templates/{old.pk}/", {"name": "Renamed"}, format="json").status_code == 405
    assert client.delete(f"{API}/plan-templates/{old.pk}/").status_code == 405
    assert PlanTemplate.objects.get(pk=old.pk).name == "Old plan" and PlanTemplate.objects.count() == 3
    assert client.get(f"{API}/plan-templates/999999/").status_code == 404
    assert client.get(f"{API}/plan-templates/x/").status_code == 404
    assert APIClient().get(f"{API}/plan-templates/").status_code == 401


# --- Projects -----------------------------------------------------------------------------------


def test_projects_list_by_visibility_and_filters(project, other_account, rep, rep2, presales, salesmgr, deliverymgr,
                                                 delivery):
    theirs = their_project(other_account, rep2, salesmgr, deliverymgr)
    assert _ids(api_for(rep).get(f"{API}/projects/")) == {project.pk}
    assert _ids(api_for(presales).get(f"{API}/projects/")) == {project.pk}
    assert _ids(api_for(delivery).get(f"{API}/projects/")) == {project.pk}
    assert _ids(api_for(rep2).get(f"{API}/projects/")) == {theirs.pk}
    client = api_for(salesmgr)
    assert _ids(client.get(f"{API}/projects/")) == {project.pk, theirs.pk}
    assert _ids(client.get(f"{API}/projects/", {"owner": delivery.pk})) == {project.pk}
    assert _ids(client.get(f"{API}/projects/", {"account": other_account.pk})) == {theirs.pk}
    assert _ids(client.get(f"{API}/projects/", {"state": "active"})) == {project.pk, theirs.pk}
    assert _ids(client.get(f"{API}/projects/", {"state": "complete"})) == set()
    assert _ids(client.get(f"{API}/projects/", {"owner": 2**64})) == set()
    ordered = _results(client.get(f"{API}/projects/", {"ordering": "started_at"}))
    assert [r["id"] for r in ordered] == [project.pk, theirs.pk]
    bad = client.get(f"{API}/projects/", {"state": "paused"})
    assert bad.status_code == 400 and "state" in bad.json()


def test_a_project_reads_with_its_stages_summary(project, rep, delivery, deal):
    data = api_for(rep).get(f"{API}/projects/{project.pk}/").json()
    assert (data["owner"], data["owner_name"], data["deal"], data["deal_name"]) == (
        delivery.pk, "Delivery", deal.pk, "Acme line 2",
    )
    assert data["template_name"] == "Software rollout" and data["state"] == "active"
    assert data["handover"] == project.handover_id and data["completed_at"] is None
    assert [(st["position"], st["name"], st["state"]) for st in data["stages"]][:2] == [
        (1, "Kickoff", "planned"), (2, "Installation", "planned"),
    ]
    assert set(data["stages"][0]) == {"id", "position", "name", "state", "needs_signoff", "due_date",
                                      "signed_off_at", "done_at"}


def test_projects_are_read_only(project, deliverymgr, admin_user):
    for user in (deliverymgr, admin_user):
        client = api_for(user)
        assert client.post(f"{API}/projects/", {"handover": project.handover_id}, format="json").status_code == 405
        body = {"state": "complete", "owner": user.pk}
        assert client.patch(f"{API}/projects/{project.pk}/", body, format="json").status_code == 405
        assert client.delete(f"{API}/projects/{project.pk}/").status_code == 405
    fresh = Project.objects.get(pk=project.pk)
    assert (fresh.state, fresh.owner_id, Project.objects.count()) == ("active", project.owner_id, 1)


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


# --- Problems -----------------------------------------------------------------------------------


def test_raising_a_problem_breaks_the_promise_and_traces_it_to_maker_and_seller(
    deal, rep, presales, rep2, salesmgr, deliverymgr, delivery
):
    made = handover_services.promise_record(
        deal=deal, by=presales, kind="integration", description="SAP integration out of the box", source="demo",
    )
    project = accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)
    flows.account_reassign(account=project.account, by=salesmgr, to_user=rep2, reason="departure")
    body = {"account": project.account_id, "title": "No SAP connector", "description": "Needs a custom job.",
            "category": "oversold", "severity": "high", "promises": [made.pk]}
    response = api_for(delivery).post(f"{API}/problems/", body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["state"], data["source"], data["raised_by"], data["project"]) == ("open", "staff", delivery.pk,
                                                                                    project.pk)
    assert data["promises"] == [made.pk] and data["hours_to_resolve"] is None
    [trace] = data["attribution"]
    assert (trace["promise"], trace["made_by"], trace["sold_by"]) == (made.pk, presales.pk, rep.pk)
    assert (trace["made_by_name"], trace["sold_by_name"], trace["state"]) == ("Presales", "Rep", "broken")
    assert Promise.objects.get(pk=made.pk).state == "broken"
    assert Activity.objects.filter(event_type="delivery.problem.raised", data__problem=data["id"]).count() == 1
    again = api_for(rep2).get(f"{API}/problems/{data['id']}/").json()
    assert again["attribution"] == data["attribution"]


def test_the_source_raiser_and_state_of_a_problem_cannot_be_mass_assigned(project, rep, rep2):
    body = {"account": project.account_id, "title": "Slow screens", "category": "product_defect",
            "severity": "low", "source": "customer", "raised_by": rep2.pk, "raised_by_label": "Forged",
            "state": "closed", "resolution": "Nothing", "resolved_at": "2001-01-01T00:00:00Z",
            "resolved_by": rep2.pk, "reopen_count": 9, "raised_at": "2001-01-01T00:00:00Z"}
    response = api_for(rep).post(f"{API}/problems/", body, format="json")
    assert response.status_code == 201, response.content
    made = Problem.objects.get()
    assert (made.source, made.raised_by, made.raised_by_label, made.state) == ("staff", rep, "", "open")
    assert (made.resolution, made.resolved_at, made.resolved_by, made.reopen_count) == ("", None, None, 0)
    assert made.raised_at > timezone.now() - timedelta(minutes=5)


def test_a_critical_problem_alerts_the_team_once(project, rep, delivery, deliverymgr, mailoutbox,
                                                 django_capture_on_commit_callbacks):
    body = {"account": project.account_id, "title": "Line down", "category": "product_defect", "severity": "critical"}
    with django_capture_on_commit_callbacks(execute=True):
        assert api_for(rep).post(f"{API}/problems/", body, format="json").status_code == 201
    [message] = mailoutbox
    assert set(message.to) >= {delivery.email, deliverymgr.email, rep.email}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"account": "theirs"}, "account"),
        ({"account": 999999}, "account"),
        ({"account": "x"}, "account"),
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"description": "x" * 10001}, "description"),
        ({"category": "bad_luck"}, "category"),
        ({"severity": "apocalyptic"}, "severity"),
        ({"severity": 3}, "severity"),
        ({"promises": [999999]}, "promises"),
        ({"promises": "1,2"}, "promises"),
        ({"promises": "theirs"}, "promises"),
        ({"project": 999999}, "project"),
        ({"project": "theirs"}, "project"),
        ({"project": "hidden"}, "project"),
    ],
)
def test_bad_problems_answer_400_naming_the_field_and_create_nothing(
    project, salesmgr, rep, rep2, deliverymgr, other_account, other_deal, payload, field
):
    # A sales manager sees every account: the service still refuses another account's rows.
    # rep does not see rep2's account: its rows read as not existing.
    body = {"account": project.account_id, "title": "Late", "category": "other", "severity": "low", **payload}
    client = api_for(salesmgr)
    if body["account"] == "theirs" or body.get("project") == "hidden":
        client = api_for(rep)
    if body["account"] == "theirs":
        body["account"] = other_account.pk
    if body.get("promises") == "theirs":
        body["promises"] = [handover_services.promise_record(
            deal=other_deal, by=rep2, kind="other", description="Free coffee", source="call").pk]
    if body.get("project") in ("theirs", "hidden"):
        theirs = their_project(other_account, rep2, salesmgr, deliverymgr)
        body["project"] = theirs.pk
    promises = list(Promise.objects.values_list("pk", "state"))
    response = client.post(f"{API}/problems/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Problem.objects.exists() and _events("delivery.problem") == 0
    assert list(Promise.objects.values_list("pk", "state")) == promises


def test_problems_list_by_visibility_and_filters(project, other_account, other_deal, rep, rep2, salesmgr, deliverymgr, delivery):
    theirs_project = their_project(other_account, rep2, salesmgr, deliverymgr)
    mine = problem(project, delivery, severity="critical", category="product_defect")
    resolved = services.problem_resolve(problem=problem(project, rep, severity="low"), by=delivery, resolution="Ok")
    customer = services.problem_raise(account=project.account, by=None, title="Invoices wrong", category="other",
                                      severity="medium", source="customer", raised_by_label="Alice via portal")
    theirs = problem(theirs_project, rep2, category="oversold")
    assert _ids(api_for(rep).get(f"{API}/problems/")) == {mine.pk, resolved.pk, customer.pk}
    assert _ids(api_for(rep2).get(f"{API}/problems/")) == {theirs.pk}
    client = api_for(salesmgr)
    everything = client.get(f"{API}/problems/")
    assert _ids(everything) == {mine.pk, resolved.pk, customer.pk, theirs.pk}
    named = {row["id"]: row["raised_by_name"] for row in _results(everything)}
    assert named[customer.pk] == "Alice via portal" and named[mine.pk] == "Delivery"
    cases = [
        ({"state": "resolved"}, {resolved.pk}),
        ({"severity": "critical"}, {mine.pk}),
        ({"category": "oversold"}, {theirs.pk}),
        ({"source": "customer"}, {customer.pk}),
        ({"account": other_account.pk}, {theirs.pk}),
        ({"project": theirs_project.pk}, {theirs.pk}),
        ({"search": "invoices"}, {customer.pk}),
    ]
    for query, expected in cases:
        assert _ids(client.get(f"{API}/problems/", query)) == expected, query
    for name in ("state", "severity", "category", "source"):
        bad = client.get(f"{API}/problems/", {name: "bogus"})
        assert bad.status_code == 400 and name in bad.json()
    assert _results(client.get(f"{API}/problems/", {"state": "resolved"}))[0]["hours_to_resolve"] is not None


def test_a_problem_is_resolved_closed_and_reopened_with_events(project, delivery, rep):
    raised = problem(project, rep)
    url = f"{API}/problems/{raised.pk}"
    response = api_for(delivery).post(f"{url}/resolve/", {"resolution": "Shipped the arm."}, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["state"], data["resolution"], data["resolved_by"]) == ("resolved", "Shipped the arm.", delivery.pk)
    assert data["hours_to_resolve"] is not None
    response = api_for(delivery).post(f"{url}/close/")
    assert response.status_code == 200 and response.json()["state"] == "closed" and response.json()["closed_at"]
    response = api_for(rep).post(f"{url}/reopen/", {"reason": "Arm 2 broke again."}, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["state"], data["reopen_count"], data["resolved_at"], data["closed_at"]) == ("open", 1, None, None)
    kinds = sorted(Activity.objects.filter(data__problem=raised.pk).values_list("event_type", flat=True))
    assert kinds == ["delivery.problem.closed", "delivery.problem.raised", "delivery.problem.reopened",
                     "delivery.problem.resolved"]


@pytest.mark.parametrize(
    ("action", "payload", "field"),
    [
        ("resolve", {}, "resolution"),
        ("resolve", {"resolution": "   "}, "resolution"),
        ("resolve", {"resolution": "x" * 5001}, "resolution"),
        ("resolve", {"resolution": {"text": "x"}}, "resolution"),
        ("reopen", {}, "reason"),
        ("reopen", {"reason": ""}, "reason"),
        ("reopen", {"reason": "x" * 5001}, "reason"),
    ],
)
def test_bad_problem_actions_answer_400_naming_the_field(project, delivery, action, payload, field):
    raised = problem(project, delivery)
    if action == "reopen":
        raised = services.problem_resolve(problem=raised, by=delivery, resolution="Fixed")
    state = raised.state
    events = _events("delivery.problem")
    response = api_for(delivery).post(f"{API}/problems/{raised.pk}/{action}/", payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert Problem.objects.get(pk=raised.pk).state == state and _events("delivery.problem") == events


@pytest.mark.parametrize(
    ("action", "state", "body"),
    [
        ("resolve", "resolved", {"resolution": "Again"}),
        ("resolve", "closed", {"resolution": "Again"}),
        ("close", "open", None),
        ("close", "closed", None),
        ("reopen", "open", {"reason": "Why not"}),
    ],
)
def test_illegal_problem_transitions_answer_409_and_change_nothing(project, delivery, action, state, body):
    raised = problem(project, delivery)
    if state in ("resolved", "closed"):
        raised = services.problem_resolve(problem=raised, by=delivery, resolution="Fixed")
    if state == "closed":
        raised = services.problem_close(problem=raised, by=delivery)
    events = Activity.objects.count()
    response = api_for(delivery).post(f"{API}/problems/{raised.pk}/{action}/", body, format="json")
    assert response.status_code == 409, response.content
    fresh = Problem.objects.get(pk=raised.pk)
    assert fresh.state == state and fresh.resolution == raised.resolution and Activity.objects.count() == events


@pytest.mark.parametrize(
    ("action", "who"),
    [("resolve", "rep"), ("resolve", "presales"), ("resolve", "salesmgr"), ("close", "rep"), ("close", "salesmgr")],
)
def test_only_the_delivery_side_resolves_and_closes(request, project, delivery, action, who):
    raised = problem(project, delivery)
    if action == "close":
        raised = services.problem_resolve(problem=raised, by=delivery, resolution="Fixed")
    events = Activity.objects.count()
    body = {"resolution": "Mine"} if action == "resolve" else None
    response = api_for(request.getfixturevalue(who)).post(f"{API}/problems/{raised.pk}/{action}/", body,
                                                          format="json")
    assert response.status_code == 403
    assert Problem.objects.get(pk=raised.pk).state == raised.state and Activity.objects.count() == events


def test_problems_are_not_edited_or_deleted(project, delivery, deliverymgr):
    raised = problem(project, delivery)
    client = api_for(deliverymgr)
    assert client.patch(f"{API}/problems/{raised.pk}/", {"title": "Renamed"}, format="json").status_code == 405
    assert client.put(f"{API}/problems/{raised.pk}/", {"title": "Renamed"}, format="json").status_code == 405
    assert client.delete(f"{API}/problems/{raised.pk}/").status_code == 405
    assert Problem.objects.get(pk=raised.pk).title == "Arm 2 missing"


# --- Customer portal links ----------------------------------------------------------------------


def test_the_account_team_sends_and_revokes_a_portal_link(
    project, rep, mailoutbox, django_capture_on_commit_callbacks
):
    body = {"account": project.account_id, "contact": alice(project).pk}
    with django_capture_on_commit_callbacks(execute=True):
        response = api_for(rep).post(f"{API}/portal-links/", body, format="json")
    assert response.status_code == 201, response.content
    link = CustomerLink.objects.get(purpose="portal")
    data = response.json()
    assert (data["id"], data["account"], data["contact"], data["revoked_at"]) == (
        link.pk, project.account_id, alice(project).pk, None,
    )
    assert data["expires_at"] and [m.to for m in mailoutbox] == [["alice@acme.example"]]
    raw = _raw_token(mailoutbox, "/c/portal/open/")
    assert raw not in response.content.decode() and link.token_hash not in response.content.decode()
    assert "token" not in response.content.decode()
    assert Activity.objects.filter(event_type="delivery.portal_link_sent").count() == 1
    revoked = api_for(rep).post(f"{API}/portal-links/revoke/", {"account": project.account_id}, format="json")
    assert revoked.status_code == 200 and revoked.json() == {"revoked": 1}
    assert CustomerLink.objects.get(pk=link.pk).revoked_at is not None
    assert Activity.objects.filter(event_type="delivery.portal_link_revoked").count() == 1
    again = api_for(rep).post(f"{API}/portal-links/revoke/", {"account": project.account_id}, format="json")
    assert again.json() == {"revoked": 0}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"contact": "theirs"}, "contact"),
        ({"contact": "left"}, "contact"),
        ({"contact": "do_not_contact"}, "contact"),
        ({"contact": 999999}, "contact"),
        ({"contact": None}, "contact"),
        ({"account": "theirs"}, "account"),
        ({"account": "x"}, "account"),
    ],
)
def test_bad_portal_links_answer_400_naming_the_field_and_send_nothing(
    project, rep, other_account, payload, field, mailoutbox, django_capture_on_commit_callbacks
):
    body = {"account": project.account_id, "contact": alice(project).pk, **payload}
    if body["contact"] == "theirs":
        body["contact"] = other_account.contacts.get().pk
    if body["account"] == "theirs":
        body["account"] = other_account.pk
    if body["contact"] in ("left", "do_not_contact"):
        bruno = project.account.contacts.get(first_name="Bruno")
        Contact.objects.filter(pk=bruno.pk).update(**{"is_active": False} if body["contact"] == "left"
                                                   else {"do_not_contact": True})
        body["contact"] = bruno.pk
    with django_capture_on_commit_callbacks(execute=True):
        response = api_for(rep).post(f"{API}/portal-links/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not CustomerLink.objects.exists() and mailoutbox == []


def test_another_reps_account_gets_no_portal_link_or_revocation(project, rep, rep2):
    services.portal_link_issue(account=project.account, by=rep, contact=alice(project))
    response = api_for(rep2).post(f"{API}/portal-links/revoke/", {"account": project.account_id}, format="json")
    assert response.status_code == 400 and "account" in response.json()
    assert CustomerLink.objects.get().revoked_at is None


# --- Visibility ---------------------------------------------------------------------------------


OUTSIDER_OPERATIONS = [
    ("get", "/projects/{project}/", None),
    ("get", "/stages/{stage}/", None),
    ("patch", "/stages/{stage}/", {"description": "Mine", "promises": []}),
    ("post", "/stages/{stage}/start/", None),
    ("post", "/stages/{stage}/request-signoff/", {"contact": "contact", "delivered": "Mine"}),
    ("post", "/stages/{stage}/complete/", None),
    ("get", "/problems/{problem}/", None),
    ("post", "/problems/{problem}/resolve/", {"resolution": "Mine"}),
    ("post", "/problems/{problem}/close/", None),
    ("post", "/problems/{resolved}/reopen/", {"reason": "Mine"}),
]


@pytest.mark.parametrize(("method", "template", "body"), OUTSIDER_OPERATIONS)
@pytest.mark.parametrize("persona", ["rep2", "outsider"])
def test_another_reps_deliveries_answer_404_and_stay_unchanged(
    request, project, delivery, persona, method, template, body
):
    user = request.getfixturevalue(persona)
    first = started(project, 1, delivery)
    open_problem = problem(project, delivery)
    resolved = services.problem_resolve(problem=problem(project, delivery), by=delivery, resolution="Fixed")
    url = API + template.format(project=project.pk, stage=first.pk, problem=open_problem.pk, resolved=resolved.pk)
    if body:
        body = {k: (alice(project).pk if v == "contact" else v) for k, v in body.items()}

    def snapshot() -> tuple[Any, ...]:
        st = Stage.objects.get(pk=first.pk)
        return (st.state, st.description, st.delivered, list(Problem.objects.order_by("pk").values_list("state")),
                Activity.objects.count(), CustomerLink.objects.count())

    before = snapshot()
    response = getattr(api_for(user), method)(url, body, format="json")
    assert response.status_code == 404, (url, response.content)
    assert snapshot() == before


def test_a_missing_object_and_a_hidden_one_answer_alike(project, delivery, rep2):
    raised = problem(project, delivery)
    for kind, pk in (("projects", project.pk), ("stages", stage(project, 1).pk), ("problems", raised.pk)):
        hidden = api_for(rep2).get(f"{API}/{kind}/{pk}/")
        missing = api_for(rep2).get(f"{API}/{kind}/999999/")
        junk = api_for(rep2).get(f"{API}/{kind}/0.5/")
        huge = api_for(rep2).get(f"{API}/{kind}/{2**70}/")
        assert hidden.status_code == missing.status_code == junk.status_code == huge.status_code == 404
        assert hidden.json() == missing.json() == junk.json() == huge.json()


def test_the_api_answers_401_without_credentials(project):
    first = stage(project, 1)
    for url in ("projects/", "stages/", "problems/", "plan-templates/"):
        assert APIClient().get(f"{API}/{url}").status_code == 401
    assert APIClient().post(f"{API}/stages/{first.pk}/start/").status_code == 401
    assert APIClient().post(f"{API}/portal-links/", {}, format="json").status_code == 401
    assert Stage.objects.get(pk=first.pk).state == "planned"


# --- Query budgets ------------------------------------------------------------------------------


def _grow(n: int, *, account: Any, rep: Any, salesmgr: Any, deliverymgr: Any, delivery: Any) -> None:
    """Delivered deals on rep's account until there are `n` projects, each with a stage that has a
    promise, a signer and a sign-off, and a problem on its promise; plus `n` plan templates."""
    while Project.objects.count() < n:
        i = Project.objects.count()
        deal = crm_services.deal_create(account=account, by=rep, name=f"Deal {i}",
                                        line_items=[{"name": "Arm", "quantity": 1, "unit_price": "10"}])
        project = accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)
        made = promise_of(project)
        first = stage(project, 1)
        services.stage_set_promises(stage=first, by=delivery, promises=[made])
        services.stage_start(stage=first, by=delivery)
        answer(services.stage_request_signoff(stage=first, by=delivery, contact=alice(project), delivered="Done"))
        services.problem_raise(account=account, by=delivery, title=f"Problem {i}", category="oversold",
                               severity="high", promises=[made])
    while PlanTemplate.objects.count() < n:
        template = PlanTemplate.objects.create(name=f"Plan {PlanTemplate.objects.count()}")
        for position in (1, 2, 3):
            PlanTemplateStage.objects.create(template=template, position=position, name=f"Step {position}")


@pytest.mark.parametrize(
    ("path", "rows_per_project"),
    [("projects", 1), ("stages", 5), ("problems", 1), ("plan-templates", None)],
)
def test_the_lists_take_a_fixed_number_of_queries(
    account, rep, salesmgr, deliverymgr, delivery, path, rows_per_project, django_assert_max_num_queries
):
    people = {"account": account, "rep": rep, "salesmgr": salesmgr, "deliverymgr": deliverymgr, "delivery": delivery}
    counts: dict[tuple[int, str], int] = {}
    for n in (2, 8):
        _grow(n, **people)
        # The rep sees the deliveries through the account team (a subquery); the manager sees all.
        for user in (rep, salesmgr):
            client = api_for(user)
            with django_assert_max_num_queries(5), CaptureQueriesContext(connection) as queries:
                response = client.get(f"{API}/{path}/", {"page_size": 100})
            expected = n * rows_per_project if rows_per_project else n
            assert len(_results(response)) == expected
            counts[(n, user.get_username())] = len(queries)
    assert counts[(2, "rep")] == counts[(8, "rep")] and counts[(2, "salesmgr")] == counts[(8, "salesmgr")], counts


def test_the_stage_detail_takes_a_fixed_number_of_queries(project, delivery, rep, django_assert_max_num_queries):
    _, link = awaiting(project, delivery)
    answer(link, signed_off=False, reason="Not yet")
    first = stage(project, 1)
    services.stage_set_promises(stage=first, by=delivery, promises=[promise_of(project)])
    with django_assert_max_num_queries(7):
        response = api_for(rep).get(f"{API}/stages/{first.pk}/")
    assert response.status_code == 200 and len(response.json()["signoffs"]) == 1


def test_no_delivery_schema_exposes_a_token(db):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    names = [name for name in schema["components"]["schemas"] if name.startswith(("CustomerLink", "StageDetail"))]
    assert names
    for name in names:
        assert not any("token" in prop for prop in schema["components"]["schemas"][name].get("properties", {})), name
