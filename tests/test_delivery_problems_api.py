"""The delivery API for problems: raising, working and closing them, traced to the promises they
break."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from crm.models import Activity
from delivery import services
from delivery.models import Problem
from flows import actions as flows
from handover import services as handover_services
from handover.models import Promise
from tests.scenarios import API, _events, _ids, _results, accept_deal, api_for, problem, their_project

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
