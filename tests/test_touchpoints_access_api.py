"""The touchpoints API answers 404 for what the user cannot see and 403 for the wrong role
(reliability.md 1-3)."""

from __future__ import annotations

import pytest

from tests.scenarios import API, api_for, valid_body
from tests.scenarios import OUTCOME_JSON as OUTCOME
from tests.scenarios import TOUCHPOINT_ACTIONS as ACTIONS
from tests.scenarios import touchpoint_world as world
from touchpoints.models import Touchpoint

# --- 404 for what the user cannot see -----------------------------------------------------------


@pytest.mark.parametrize("persona", ["rep2", "outsider"])
def test_another_accounts_touchpoint_answers_404_for_read_and_every_action(request, persona, project, checkup):
    user = request.getfixturevalue(persona)
    client = api_for(user)
    before = world()
    assert client.get(f"{API}/touchpoints/{checkup.pk}/").status_code == 404
    for action in ACTIONS:
        response = client.post(f"{API}/touchpoints/{checkup.pk}/{action}/", valid_body(action), format="json")
        assert response.status_code == 404, (action, response.content)
        # The same answer as for a touchpoint that does not exist.
        assert client.post(f"{API}/touchpoints/999999/{action}/", valid_body(action),
                           format="json").status_code == 404
    assert world() == before


@pytest.mark.parametrize("bad_id", ["abc", "0.5", "99999999999999999999999", "-1"])
def test_a_malformed_id_answers_404(project, deliverymgr, bad_id):
    client = api_for(deliverymgr)
    assert client.get(f"{API}/touchpoints/{bad_id}/").status_code == 404
    assert client.post(f"{API}/touchpoints/{bad_id}/complete/", OUTCOME, format="json").status_code == 404
    assert client.get(f"{API}/agendas/{bad_id}/").status_code == 404


# --- 403 for the wrong role ---------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["rep", "presales"])
@pytest.mark.parametrize("action", ACTIONS)
def test_the_account_team_sees_but_only_the_owner_and_managers_change_a_touchpoint(
    request, persona, action, project, checkup
):
    user = request.getfixturevalue(persona)
    client = api_for(user)
    before = world()
    assert client.get(f"{API}/touchpoints/{checkup.pk}/").status_code == 200

    response = client.post(f"{API}/touchpoints/{checkup.pk}/{action}/", valid_body(action), format="json")
    # The role is checked before the body: a bad body still answers 403.
    bad = client.post(f"{API}/touchpoints/{checkup.pk}/{action}/", {}, format="json")

    assert response.status_code == 403, response.content
    assert bad.status_code == 403
    assert world() == before


def test_the_rep_works_their_own_thank_you_note(project, rep, thank_you):
    response = api_for(rep).post(f"{API}/touchpoints/{thank_you.pk}/complete/", OUTCOME, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "done" and response.json()["completed_by"] == rep.pk


def test_a_thank_you_note_needs_no_satisfaction_score(project, rep, thank_you):
    response = api_for(rep).post(f"{API}/touchpoints/{thank_you.pk}/complete/", {"as_expected": True}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["state"], response.json()["satisfaction"]) == ("done", None)


def test_a_check_up_without_a_satisfaction_score_is_refused(project, checkup, delivery):
    before = world()
    response = api_for(delivery).post(f"{API}/touchpoints/{checkup.pk}/complete/", {"as_expected": True}, format="json")
    assert response.status_code == 400 and set(response.json()) == {"satisfaction"}
    assert world() == before


@pytest.mark.parametrize("persona", ["salesmgr", "deliverymgr", "admin_user"])
def test_managers_work_any_touchpoint(request, persona, project, checkup):
    user = request.getfixturevalue(persona)
    response = api_for(user).post(f"{API}/touchpoints/{checkup.pk}/skip/", {"reason": "Merged into review."},
                                  format="json")
    assert response.status_code == 200, response.content
    assert Touchpoint.objects.get(pk=checkup.pk).state == "skipped"
