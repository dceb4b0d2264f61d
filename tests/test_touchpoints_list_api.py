"""The touchpoints API's reads: listing and retrieving touchpoints and agendas, with query budgets
on the lists (reliability.md 1, 29)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from crm import services as crm_services
from tests.scenarios import API, accept_deal, api_for, make_user
from tests.scenarios import OUTCOME_JSON as OUTCOME
from tests.scenarios import TOUCHPOINT_ACTIONS as ACTIONS
from tests.scenarios import _ids as ids
from tests.scenarios import _results as results
from tests.scenarios import touchpoint_world as world
from touchpoints import services
from touchpoints.models import AgendaTemplate, Touchpoint


def their_touchpoints(other_account: Any, rep2: Any, salesmgr: Any, deliverymgr: Any) -> list[Touchpoint]:
    """An agenda on rep2's account, run by another delivery team member."""
    deal = crm_services.deal_create(account=other_account, by=rep2, name="Globex roll-out",
                                    line_items=[{"name": "Licences", "quantity": 5, "unit_price": "100"}])
    owner = make_user("delivery2", "Delivery team member")
    accept_deal(deal, rep=rep2, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=owner)
    return list(Touchpoint.objects.filter(account=other_account))


# --- List and retrieve --------------------------------------------------------------------------


def test_the_list_holds_only_touchpoints_on_accounts_the_user_sees(
    project, rep, rep2, delivery, outsider, deliverymgr, other_account, salesmgr
):
    ours = set(Touchpoint.objects.filter(account=project.account).values_list("pk", flat=True))
    theirs = {t.pk for t in their_touchpoints(other_account, rep2, salesmgr, deliverymgr)}
    assert len(ours) == 5 and len(theirs) == 5

    assert ids(api_for(rep).get(f"{API}/touchpoints/")) == ours
    assert ids(api_for(delivery).get(f"{API}/touchpoints/")) == ours
    assert ids(api_for(rep2).get(f"{API}/touchpoints/")) == theirs
    assert ids(api_for(outsider).get(f"{API}/touchpoints/")) == set()
    assert ids(api_for(deliverymgr).get(f"{API}/touchpoints/", {"page_size": 100})) == ours | theirs
    # A filter only narrows: asking for rep2's account as rep shows nothing, and counts nothing.
    response = api_for(rep).get(f"{API}/touchpoints/", {"account": other_account.pk})
    assert results(response) == [] and response.json()["count"] == 0
    assert APIClient().get(f"{API}/touchpoints/").status_code == 401


def test_the_list_filters_by_owner_account_state_kind_due_time_and_mine(project, rep, delivery, thank_you, checkup):
    client = api_for(rep)
    everything = ids(client.get(f"{API}/touchpoints/"))
    assert ids(client.get(f"{API}/touchpoints/", {"mine": "true"})) == {thank_you.pk}
    assert ids(api_for(delivery).get(f"{API}/touchpoints/", {"mine": "true"})) == everything - {thank_you.pk}
    assert ids(client.get(f"{API}/touchpoints/", {"mine": "false"})) == everything
    assert ids(client.get(f"{API}/touchpoints/", {"owner": rep.pk})) == {thank_you.pk}
    assert ids(client.get(f"{API}/touchpoints/", {"account": project.account_id})) == everything
    assert ids(client.get(f"{API}/touchpoints/", {"kind": "checkup_call"})) == {checkup.pk}
    services.touchpoint_skip(touchpoint=checkup, by=delivery, reason="Covered in the training call.")
    assert ids(client.get(f"{API}/touchpoints/", {"state": "skipped"})) == {checkup.pk}
    assert ids(client.get(f"{API}/touchpoints/", {"state": "scheduled"})) == everything - {checkup.pk}
    window = {"due_after": (checkup.due_at - timedelta(hours=1)).isoformat(),
              "due_before": (checkup.due_at + timedelta(hours=1)).isoformat()}
    assert ids(client.get(f"{API}/touchpoints/", window)) == {checkup.pk}
    rows = results(client.get(f"{API}/touchpoints/"))
    assert [row["due_at"] for row in rows] == sorted(row["due_at"] for row in rows)


@pytest.mark.parametrize(
    ("params", "field"),
    [({"state": "finished"}, "state"), ({"kind": "lunch"}, "kind"), ({"due_after": "next week"}, "due_after"),
     ({"due_before": "2027-13-45"}, "due_before"), ({"owner": "me"}, "owner"), ({"account": "1.5"}, "account"),
     # Valid ISO 8601, but outside years 1-9999 once in UTC.
     ({"due_after": "0001-01-01T00:00:00+05:00"}, "due_after"), ({"due_before": "9999-12-31T23:59:59-05:00"},
                                                                  "due_before")],
)
def test_a_bad_filter_answers_400_naming_it(project, rep, params, field):
    response = api_for(rep).get(f"{API}/touchpoints/", params)
    assert response.status_code == 400 and field in response.json()


def test_a_due_time_filter_with_an_offset_postgresql_refuses_compares_the_same_moment_in_utc(project, rep, checkup):
    # ISO 8601 allows offsets up to 23:59; PostgreSQL refuses beyond 15:59 (the fuzzer found a 500).
    offset = timedelta(hours=-16, minutes=-41)
    local = (checkup.due_at + offset).replace(tzinfo=None).isoformat() + "-16:41"
    client = api_for(rep)
    assert checkup.pk in ids(client.get(f"{API}/touchpoints/", {"due_after": local}))
    assert checkup.pk not in ids(client.get(f"{API}/touchpoints/", {"due_before": local}))
    assert ids(client.get(f"{API}/touchpoints/", {"due_after": "1124-12-15T22:36:56.28-16:41"}))


def test_retrieve_shows_the_outcome_and_the_survey_summary_without_the_customers_ip(project, checkup, delivery, rep):
    services.touchpoint_complete(touchpoint=checkup, by=delivery, satisfaction=3, as_expected=True,
                                 notes="Call went fine.")
    link, _raw = services.survey_link_issue(checkup)
    answer = services.survey_answer(link=link, satisfaction=1, as_expected=False, comment="The robots stopped.",
                                    is_complaint=True, ip="198.51.100.77", user_agent="Customer browser 1.0")
    assert answer.problem is not None

    response = api_for(rep).get(f"{API}/touchpoints/{checkup.pk}/")

    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["state"], data["satisfaction"], data["as_expected"], data["notes"]) == ("done", 3, True,
                                                                                        "Call went fine.")
    assert data["completed_by"] == delivery.pk and data["closed_at"] is not None
    assert data["owner"] == delivery.pk and data["account"] == project.account_id
    assert data["survey_response"] == {
        "id": answer.pk, "satisfaction": 1, "as_expected": False, "is_complaint": True,
        "comment": "The robots stopped.", "problem": answer.problem.pk,
        "created_at": data["survey_response"]["created_at"],
    }
    text = response.content.decode()
    assert "198.51.100.77" not in text and "Customer browser" not in text and "ip_address" not in text
    # The list carries the same summary.
    [row] = [r for r in results(api_for(rep).get(f"{API}/touchpoints/")) if r["id"] == checkup.pk]
    assert row["survey_response"]["problem"] == answer.problem.pk and "198.51.100.77" not in str(row)
    # Without an answer, the summary is null.
    other = Touchpoint.objects.get(account=project.account, kind="training_check")
    assert api_for(rep).get(f"{API}/touchpoints/{other.pk}/").json()["survey_response"] is None


def test_touchpoints_are_not_created_edited_or_deleted_through_the_api(project, checkup, deliverymgr):
    client = api_for(deliverymgr)
    before = world()
    assert client.post(f"{API}/touchpoints/", {"title": "Forged", "account": project.account_id},
                       format="json").status_code == 405
    for method in ("put", "patch", "delete"):
        assert getattr(client, method)(f"{API}/touchpoints/{checkup.pk}/", {"title": "Renamed"},
                                       format="json").status_code == 405
    for action in ACTIONS:
        assert client.get(f"{API}/touchpoints/{checkup.pk}/{action}/").status_code == 405
    assert world() == before


# --- Agendas ------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["rep", "presales", "delivery", "salesmgr", "deliverymgr", "admin_user"])
def test_staff_read_the_agenda_templates_with_their_steps_in_order(request, persona):
    client = api_for(request.getfixturevalue(persona))
    rows = results(client.get(f"{API}/agendas/"))
    assert [row["name"] for row in rows] == ["30-day service agenda", "Quarterly follow-on"]
    service = rows[0]
    assert [(s["offset_days"], s["kind"], s["sends_survey"]) for s in service["steps"]] == [
        (0, "thank_you", False), (1, "delivery_confirmation", False), (7, "checkup_call", True),
        (14, "training_check", False), (30, "review_meeting", True),
    ]
    assert [s["position"] for s in service["steps"]] == [1, 2, 3, 4, 5]
    detail = client.get(f"{API}/agendas/{service['id']}/")
    assert detail.status_code == 200 and detail.json() == service
    assert client.get(f"{API}/agendas/", {"is_active": "false"}).json()["count"] == 0


def test_agendas_are_read_only_and_for_staff_with_a_role(db, rep):
    template = AgendaTemplate.objects.get(name="30-day service agenda")
    nobody = User.objects.create_user("norole", password="keepwarm-test-pw")
    assert api_for(nobody).get(f"{API}/agendas/").status_code == 403
    assert api_for(nobody).get(f"{API}/agendas/{template.pk}/").status_code == 403
    assert APIClient().get(f"{API}/agendas/").status_code == 401
    client = api_for(rep)
    assert client.post(f"{API}/agendas/", {"name": "Mine"}, format="json").status_code == 405
    for method in ("put", "patch", "delete"):
        assert getattr(client, method)(f"{API}/agendas/{template.pk}/", {"name": "x"}, format="json").status_code == 405
    assert client.get(f"{API}/agendas/999999/").status_code == 404
    assert AgendaTemplate.objects.get(pk=template.pk).name == "30-day service agenda"


# --- Query budgets ------------------------------------------------------------------------------


def _grow(n: int, *, account: Any, rep: Any, salesmgr: Any, deliverymgr: Any, delivery: Any) -> None:
    """Accepted deals on rep's account until there are `n`, each with its agenda; every
    accepted deal's check-up is done and its customer answered the survey (with a problem)."""
    while Touchpoint.objects.filter(kind="checkup_call").count() < n:
        i = Touchpoint.objects.filter(kind="checkup_call").count()
        deal = crm_services.deal_create(account=account, by=rep, name=f"Deal {i}",
                                        line_items=[{"name": "Arm", "quantity": 1, "unit_price": "10"}])
        project = accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)
        checkup = Touchpoint.objects.get(project=project, kind="checkup_call")
        services.touchpoint_complete(touchpoint=checkup, by=delivery, satisfaction=4, as_expected=True)
        link, _raw = services.survey_link_issue(checkup)
        services.survey_answer(link=link, satisfaction=2, as_expected=True, ip="203.0.113.1", user_agent="x")


def test_the_touchpoint_list_takes_a_fixed_number_of_queries(
    account, rep, salesmgr, deliverymgr, delivery, django_assert_max_num_queries
):
    people = {"account": account, "rep": rep, "salesmgr": salesmgr, "deliverymgr": deliverymgr, "delivery": delivery}
    counts: dict[tuple[int, str], int] = {}
    for n in (2, 8):
        _grow(n, **people)
        # The rep and the delivery owner see them through the account team; the manager sees all.
        for user in (rep, delivery, salesmgr):
            client = api_for(User.objects.get(pk=user.pk))  # a fresh user: no roles cached on it
            with django_assert_max_num_queries(5), CaptureQueriesContext(connection) as queries:
                response = client.get(f"{API}/touchpoints/", {"page_size": 200})
            rows = results(response)
            assert len(rows) == 5 * n and sum(1 for r in rows if r["survey_response"]) == n
            counts[(n, user.get_username())] = len(queries)
    for name in ("rep", "delivery", "salesmgr"):
        assert counts[(2, name)] == counts[(8, name)], counts


def test_the_agenda_list_takes_a_fixed_number_of_queries(db, rep, django_assert_max_num_queries):
    from touchpoints.models import AgendaStep

    counts = []
    for n in (2, 8):
        while AgendaTemplate.objects.count() < n:
            template = AgendaTemplate.objects.create(name=f"Agenda {AgendaTemplate.objects.count()}")
            for position in (1, 2, 3):
                AgendaStep.objects.create(template=template, position=position, offset_days=position,
                                          kind="checkup_call", objectives="Ask.")
        client = api_for(User.objects.get(pk=rep.pk))  # a fresh user: no roles cached on it
        with django_assert_max_num_queries(4), CaptureQueriesContext(connection) as queries:
            assert len(results(client.get(f"{API}/agendas/"))) == n
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_an_action_takes_a_bounded_number_of_queries(project, checkup, delivery, django_assert_max_num_queries):
    with django_assert_max_num_queries(25):
        response = api_for(delivery).post(f"{API}/touchpoints/{checkup.pk}/complete/", OUTCOME, format="json")
    assert response.status_code == 200
