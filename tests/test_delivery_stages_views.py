"""The delivery staff pages for a project's stages: starting, completing and editing a stage and
requesting the customer's sign-off. Bad input names the field and saves nothing, 409 on illegal
transitions, side effects after commit."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from crm.models import Account, Activity
from customer_links.models import CustomerLink
from delivery import services
from delivery.models import Project, Stage
from handover.models import Promise
from tests.scenarios import client_for, contact, errors, stage
from tests.scenarios import delivery_url as url

pytestmark = pytest.mark.django_db


def fresh(stage_: Stage) -> Stage:
    return Stage.objects.get(pk=stage_.pk)


# --- Starting and completing stages ----------------------------------------------------------


def test_the_owner_starts_a_stage(project: Project, delivery: User) -> None:
    first = stage(project, 1)
    response = client_for(delivery).post(url("stage_start", first.pk))
    assert response.status_code == 302 and response["Location"] == url("project_detail", project.pk) + f"#stage-{first.pk}"
    assert fresh(first).state == "in_progress"
    event = Activity.objects.get(event_type="delivery.stage.in_progress")
    assert event.actor == delivery and event.data["stage"] == first.pk


def test_managers_start_stages_too(project: Project, deliverymgr: User, admin_user: User) -> None:
    assert client_for(deliverymgr).post(url("stage_start", stage(project, 1).pk)).status_code == 302
    assert client_for(admin_user).post(url("stage_start", stage(project, 2).pk)).status_code == 302
    assert fresh(stage(project, 1)).state == fresh(stage(project, 2)).state == "in_progress"


def test_a_rep_on_the_account_may_not_start_a_stage(project: Project, rep: User, salesmgr: User) -> None:
    first = stage(project, 1)
    for user in (rep, salesmgr):
        assert client_for(user).post(url("stage_start", first.pk)).status_code == 403
    assert fresh(first).state == "planned" and not Activity.objects.filter(event_type__startswith="delivery.stage").exists()


def test_stage_actions_are_404_for_outsiders(project: Project, rep2: User, outsider: User) -> None:
    first = stage(project, 1)
    for user in (rep2, outsider):
        client = client_for(user)
        for name in ("stage_start", "stage_complete", "stage_edit", "stage_request_signoff"):
            assert client.post(url(name, first.pk)).status_code == 404, name
        for name in ("stage_edit", "stage_request_signoff"):
            assert client.get(url(name, first.pk)).status_code == 404, name
    assert fresh(first).state == "planned"


def test_starting_a_started_stage_is_a_409(project: Project, delivery: User) -> None:
    first = stage(project, 1)
    client = client_for(delivery)
    client.post(url("stage_start", first.pk))
    response = client.post(url("stage_start", first.pk))
    assert response.status_code == 409
    assert "not possible in the current state" in response.content.decode()
    htmx = client.post(url("stage_start", first.pk), HTTP_HX_REQUEST="true")
    assert htmx.status_code == 409 and htmx["HX-Retarget"] == "#alerts"
    assert Activity.objects.filter(event_type="delivery.stage.in_progress").count() == 1


def test_stage_actions_take_post_only(project: Project, delivery: User) -> None:
    first = stage(project, 1)
    for name in ("stage_start", "stage_complete"):
        assert client_for(delivery).get(url(name, first.pk)).status_code == 405
    assert fresh(first).state == "planned"


def test_csrf_is_enforced_on_stage_actions(project: Project, delivery: User) -> None:
    first = stage(project, 1)
    client = Client(enforce_csrf_checks=True)
    client.force_login(delivery)
    assert client.post(url("stage_start", first.pk)).status_code == 403
    assert fresh(first).state == "planned"
    client.get(url("project_detail", project.pk))  # sets the CSRF cookie, as a browser would
    token = client.cookies["csrftoken"].value
    assert client.post(url("stage_start", first.pk), {"csrfmiddlewaretoken": token}).status_code == 302
    assert fresh(first).state == "in_progress"


def test_completing_a_stage_without_sign_off(equipment: Project, delivery: User) -> None:
    first = stage(equipment, 1)
    client = client_for(delivery)
    client.post(url("stage_start", first.pk))
    response = client.post(url("stage_complete", first.pk), follow=True)
    assert fresh(first).state == "done" and "Order confirmed done." in response.content.decode()
    assert Activity.objects.filter(event_type="delivery.stage.done", data__stage=first.pk).count() == 1
    # Done is final: completing again is refused.
    assert client.post(url("stage_complete", first.pk)).status_code == 409


def test_a_stage_the_customer_signs_cannot_be_completed_by_staff(project: Project, delivery: User, rep: User) -> None:
    first = stage(project, 1)
    services.stage_start(stage=first, by=delivery)
    assert client_for(rep).post(url("stage_complete", first.pk)).status_code == 403
    response = client_for(delivery).post(url("stage_complete", first.pk))
    assert response.status_code == 409 and "request their sign-off" in response.content.decode()
    assert fresh(first).state == "in_progress"


# --- Editing a stage ------------------------------------------------------------------------


def test_editing_a_stage_saves_dates_texts_and_promises(project: Project, delivery: User) -> None:
    first = stage(project, 1)
    promise = Promise.objects.get(deal=project.deal)
    client = client_for(delivery)
    page = client.get(url("stage_edit", first.pk))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Two robot arms installed by 1 March" in html and "made by Rep" in html
    response = client.post(url("stage_edit", first.pk), {
        "due_date": "2027-03-01", "description": "Kickoff on site.", "delivered": "Plan agreed.",
        "promises": [promise.pk],
    })
    assert response.status_code == 302
    s = fresh(first)
    assert (s.due_date, s.description, s.delivered) == (date(2027, 3, 1), "Kickoff on site.", "Plan agreed.")
    assert list(s.promises.all()) == [promise]
    assert Activity.objects.filter(event_type="delivery.stage.updated").count() == 2  # fields, then promises
    board = client.get(url("project_detail", project.pk)).content.decode()
    assert "Two robot arms installed by 1 March" in board and "1 Mar 2027" in board


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"due_date": "31/02/2027"}, "due_date"),
        ({"due_date": "1990-01-01"}, "due_date"),  # refused by the service, shown on the field
        ({"description": "x" * 2001}, "description"),
        ({"delivered": "x" * 5001}, "delivered"),
        ({"promises": ["999999"]}, "promises"),
    ],
)
def test_bad_stage_input_names_the_field_and_saves_nothing(
    project: Project, delivery: User, data: dict[str, Any], field: str
) -> None:
    first = stage(project, 1)
    before = (first.due_date, first.description, first.delivered)
    response = client_for(delivery).post(url("stage_edit", first.pk), {"description": "Changed.", **data})
    assert response.status_code == 400
    assert list(errors(response)) == [field]
    assert f'id="id_{field}_error"' in response.content.decode()
    s = fresh(first)
    assert (s.due_date, s.description, s.delivered) == before and not s.promises.exists()
    assert not Activity.objects.filter(event_type="delivery.stage.updated").exists()


def test_a_promise_of_another_account_is_refused_on_a_stage(
    project: Project, delivery: User, theirs: Promise
) -> None:
    first = stage(project, 1)
    response = client_for(delivery).post(
        url("stage_edit", first.pk), {"due_date": "2027-03-01", "promises": [theirs.pk]}
    )
    assert response.status_code == 400 and "promises" in errors(response)
    assert "Free coffee" not in response.content.decode()
    assert fresh(first).due_date != date(2027, 3, 1) and not fresh(first).promises.exists()


def test_editing_a_stage_is_for_the_delivery_people(project: Project, rep: User, presales: User) -> None:
    first = stage(project, 1)
    for user in (rep, presales):
        assert client_for(user).get(url("stage_edit", first.pk)).status_code == 403
        assert client_for(user).post(url("stage_edit", first.pk), {"description": "Mine"}).status_code == 403
    assert fresh(first).description != "Mine"


def test_a_complete_delivery_cannot_be_edited(equipment: Project, delivery: User) -> None:
    Project.objects.filter(pk=equipment.pk).update(state="complete", completed_at="2026-01-01T00:00Z")
    first = stage(equipment, 1)
    assert client_for(delivery).get(url("stage_edit", first.pk)).status_code == 409
    assert client_for(delivery).post(url("stage_edit", first.pk), {"description": "Late"}).status_code == 409
    assert fresh(first).description != "Late"


# --- Requesting sign-off --------------------------------------------------------------------


def test_the_sign_off_form_offers_only_contacts_with_the_stage_role(project: Project, delivery: User) -> None:
    first = stage(project, 1)  # signed off by a decision maker: Alice, not Bruno
    services.stage_start(stage=first, by=delivery)
    response = client_for(delivery).get(url("stage_request_signoff", first.pk))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Alice Martin" in html and "Bruno Petit" not in html and "decision maker role" in html


def test_requesting_sign_off_emails_the_signer_once(
    project: Project, delivery: User, mailoutbox: Any, django_capture_on_commit_callbacks: Any
) -> None:
    first = stage(project, 1)
    services.stage_start(stage=first, by=delivery)
    alice = contact(project.account, "Alice")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(delivery).post(
            url("stage_request_signoff", first.pk), {"contact": alice.pk, "delivered": "Kickoff held on 3 March."}
        )
    assert response.status_code == 302
    s = fresh(first)
    assert (s.state, s.signer, s.delivered) == ("awaiting_signoff", alice, "Kickoff held on 3 March.")
    assert [m.to for m in mailoutbox] == [["alice@acme.example"]]
    assert "Kickoff held on 3 March." in mailoutbox[0].body and "/c/signoff/open/" in mailoutbox[0].body
    link = CustomerLink.objects.get(purpose="signoff")
    assert link.emailed_at is not None and link.contact == alice
    assert Activity.objects.filter(event_type="delivery.stage.awaiting_signoff", data__link=link.pk).exists()
    page = client_for(delivery).get(url("project_detail", project.pk)).content.decode()
    assert "emailed to Alice Martin" in page


@pytest.mark.parametrize(
    ("who", "delivered", "field"),
    [
        ("Bruno", "Kickoff held.", "contact"),  # technical, not a decision maker
        ("Greta", "Kickoff held.", "contact"),  # another account's contact
        ("unknown", "Kickoff held.", "contact"),
        ("Alice", "", "delivered"),
        ("Alice", "x" * 5001, "delivered"),
    ],
)
def test_bad_sign_off_requests_name_the_field_and_send_nothing(
    project: Project, delivery: User, other_account: Account, who: str, delivered: str, field: str,
    mailoutbox: Any, django_capture_on_commit_callbacks: Any,
) -> None:
    first = stage(project, 1)
    services.stage_start(stage=first, by=delivery)
    people = {"Bruno": contact(project.account, "Bruno").pk, "Greta": contact(other_account, "Greta").pk}
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(delivery).post(
            url("stage_request_signoff", first.pk), {"contact": people.get(who, "999999"), "delivered": delivered}
            if who != "Alice" else {"contact": contact(project.account, "Alice").pk, "delivered": delivered}
        )
    assert response.status_code == 400
    assert list(errors(response)) == [field]
    assert f'id="id_{field}_error"' in response.content.decode()
    assert fresh(first).state == "in_progress" and not CustomerLink.objects.exists() and mailoutbox == []


def test_sign_off_of_a_planned_stage_is_a_409(project: Project, delivery: User) -> None:
    first = stage(project, 1)
    alice = contact(project.account, "Alice")
    client = client_for(delivery)
    assert client.get(url("stage_request_signoff", first.pk)).status_code == 409
    response = client.post(url("stage_request_signoff", first.pk), {"contact": alice.pk, "delivered": "Done"})
    assert response.status_code == 409 and "start it before asking for sign-off" in response.content.decode()
    assert fresh(first).state == "planned" and not CustomerLink.objects.exists()


def test_a_stage_without_sign_off_has_no_sign_off_request(equipment: Project, delivery: User) -> None:
    first = stage(equipment, 1)
    services.stage_start(stage=first, by=delivery)
    assert client_for(delivery).get(url("stage_request_signoff", first.pk)).status_code == 409


def test_requesting_sign_off_is_for_the_delivery_people(project: Project, delivery: User, rep: User) -> None:
    first = stage(project, 1)
    services.stage_start(stage=first, by=delivery)
    alice = contact(project.account, "Alice")
    assert client_for(rep).get(url("stage_request_signoff", first.pk)).status_code == 403
    response = client_for(rep).post(url("stage_request_signoff", first.pk), {"contact": alice.pk, "delivered": "x"})
    assert response.status_code == 403 and not CustomerLink.objects.exists()
