"""The delivery API for plan templates and projects: what each user sees, 404 for the rest, and
query budgets on the lists."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from crm import services as crm_services
from crm.models import Activity
from customer_links.models import CustomerLink
from delivery import services
from delivery.models import PlanTemplate, PlanTemplateStage, Problem, Project, Stage
from tests.scenarios import (
    API,
    _ids,
    _results,
    accept_deal,
    alice,
    answer,
    api_for,
    awaiting,
    problem,
    promise_of,
    stage,
    started,
    their_project,
)

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
