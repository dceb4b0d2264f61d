"""The delivery staff pages: "my deliveries", the project's stage board and stage actions, the
problems list, raising and working a problem, the customer portal link and the account page's
delivery section. Access rules (404 for what the user may not see, 403 for the wrong role), bad
input (the field is named, nothing is saved), 409 on illegal transitions, CSRF, side effects
and query budgets that do not grow with the data."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm import roles
from crm import services as crm_services
from crm.models import Account, Activity
from customer_links.models import CustomerLink
from delivery import services
from delivery.models import Problem, Project, SignOff, Stage
from flows import actions as flows
from handover import services as handover_services
from handover.models import Promise
from tests.scenarios import accept_deal, client_for, make_user

pytestmark = pytest.mark.django_db


def url(name: str, *args: Any) -> str:
    return reverse(f"delivery:{name}", args=args)


def stage(project: Project, position: int) -> Stage:
    return project.stages.get(position=position)


def fresh(stage_: Stage) -> Stage:
    return Stage.objects.get(pk=stage_.pk)


def contact(account: Account, first_name: str) -> Any:
    return account.contacts.get(first_name=first_name)


def queries(client: Client, path: str, **params: Any) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path, params)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def errors(response: Any, form: str = "form") -> dict[str, Any]:
    return dict(response.context[form].errors)


def raise_problem(account: Account, by: User, title: str = "Slow screens", **extra: Any) -> Problem:
    data = {"category": "other", "severity": "low", **extra}
    return services.problem_raise(account=account, by=by, title=title, **data)


def signed_link(project: Project, by: User, position: int = 1, who: str = "Alice") -> CustomerLink:
    s = stage(project, position)
    if s.state in ("planned", "changes_requested"):
        services.stage_start(stage=s, by=by)
    return services.stage_request_signoff(
        stage=s, by=by, contact=contact(project.account, who), delivered="Kickoff held; plan agreed."
    )


def customer_answers(link: CustomerLink, *, signed_off: bool = True, reason: str = "") -> SignOff:
    return flows.customer_answer(
        link=CustomerLink.objects.get(pk=link.pk), signed_off=signed_off, typed_name="Alice Martin", reason=reason,
        ip="203.0.113.9", user_agent="Mail client",
    )


def new_deal(account: Account, rep: User, name: str) -> Any:
    """A deal with something purchased (the handover needs it before it can be submitted)."""
    return crm_services.deal_create(
        account=account, by=rep, name=name, value="1000",
        line_items=[{"kind": "product", "name": "Spare parts kit", "quantity": 1, "unit_price": "1000"}],
    )


@pytest.fixture
def equipment(deal: Any, rep: User, salesmgr: User, deliverymgr: User, delivery: User) -> Project:
    """The "Equipment" plan: its first stage is completed by the delivery owner, no sign-off."""
    return accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery, plan="Equipment")


@pytest.fixture
def theirs(other_deal: Any, rep2: User) -> Promise:
    """A promise made to another account."""
    return handover_services.promise_record(
        deal=other_deal, by=rep2, kind="other", description="Free coffee for a year", source="call"
    )


# --- Navigation -----------------------------------------------------------------------------


def test_the_nav_shows_deliveries_to_delivery_people_and_problems_to_every_role(
    project: Project, delivery: User, rep: User, deliverymgr: User
) -> None:
    home = reverse("crm:account_list")
    for user, sees_deliveries in ((delivery, True), (deliverymgr, True), (rep, False)):
        html = client_for(user).get(home).content.decode()
        assert (f'href="{url("my_deliveries")}"' in html) is sees_deliveries, user
        assert f'href="{url("problem_list")}"' in html, user
    nobody = User.objects.create_user("norole", password="x")
    html = client_for(nobody).get(home).content.decode()
    assert url("problem_list") not in html and url("my_deliveries") not in html


# --- My deliveries --------------------------------------------------------------------------


def test_my_deliveries_lists_the_owners_projects_with_progress(project: Project, delivery: User) -> None:
    signed_link(project, delivery)
    response = client_for(delivery).get(url("my_deliveries"))
    assert response.status_code == 200
    [row] = response.context["page"].object_list
    assert row.pk == project.pk
    assert (row.stage_done, row.stage_total, row.stage_awaiting) == (0, 5, 1)
    assert row.next_stage == "Kickoff" and row.next_due == stage(project, 1).due_date
    html = response.content.decode()
    assert "0/5 stages done" in html and url("project_detail", project.pk) in html


def test_my_deliveries_puts_active_projects_first_and_counts_finished_stages(
    equipment: Project, delivery: User, account: Account, rep: User, salesmgr: User, deliverymgr: User
) -> None:
    first = stage(equipment, 1)
    services.stage_start(stage=first, by=delivery)
    flows.stage_complete(stage=first, by=delivery)
    deal2 = new_deal(account, rep, "Spare parts")
    second = accept_deal(deal2, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery, plan="Equipment")
    # Finish the second one entirely: it goes after the active one.
    alice = contact(account, "Alice")
    for s in second.stages.order_by("position"):
        services.stage_start(stage=s, by=delivery)
        if not s.needs_signoff:
            flows.stage_complete(stage=s, by=delivery)
            continue
        type(alice).objects.filter(pk=alice.pk).update(role=s.signer_role)
        customer_answers(services.stage_request_signoff(stage=s, by=delivery, contact=alice, delivered="Done."))
    assert Project.objects.get(pk=second.pk).state == "complete"
    rows = list(client_for(delivery).get(url("my_deliveries")).context["page"].object_list)
    assert [r.pk for r in rows] == [equipment.pk, second.pk]
    assert (rows[0].stage_done, rows[0].stage_total, rows[0].next_stage) == (1, 4, "Delivered")
    assert (rows[1].stage_done, rows[1].next_stage) == (4, None)


def test_the_account_section_shows_the_figures_and_order_of_my_deliveries(
    equipment: Project, delivery: User, account: Account, rep: User, salesmgr: User, deliverymgr: User
) -> None:
    """The account page counts one account's stages in Python (selectors.account_projects),
    my deliveries in SQL (with_progress, active_first): the same figures, in the same order."""
    first = stage(equipment, 1)
    services.stage_start(stage=first, by=delivery)
    flows.stage_complete(stage=first, by=delivery)
    later = accept_deal(new_deal(account, rep, "Later rollout"), rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr,
                        owner=delivery)
    signed_link(later, delivery)  # one stage awaiting sign-off
    Stage.objects.filter(project=later).update(due_date=timezone.localdate() - timedelta(days=2))  # overdue
    undated = accept_deal(new_deal(account, rep, "Undated"), rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr,
                          owner=delivery)
    Stage.objects.filter(project__in=[undated, equipment]).update(due_date=None)
    finished = accept_deal(new_deal(account, rep, "Finished"), rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr,
                           owner=delivery, plan="Equipment")
    Project.objects.filter(pk=finished.pk).update(state="complete", completed_at=timezone.now())
    Stage.objects.filter(project=finished).update(state="done", needs_signoff=False)

    def shown(projects: Any) -> list[tuple[Any, ...]]:
        return [(p.pk, p.stage_done, p.stage_total, p.stage_awaiting, p.next_stage, p.next_due, p.overdue)
                for p in projects]

    mine = list(client_for(delivery).get(url("my_deliveries")).context["page"].object_list)
    page = client_for(delivery).get(reverse("crm:account_detail", args=[account.pk]))
    [section] = [s for s in page.context["sections"] if s["title"] == "Delivery"]
    assert shown(section["context"]["projects"]) == shown(mine)
    # Overdue first (active, soonest due), then the undated active ones latest first, then the
    # finished one.
    assert [p.pk for p in mine] == [later.pk, undated.pk, equipment.pk, finished.pk]
    assert shown(mine)[0][3:] == (1, "Kickoff", timezone.localdate() - timedelta(days=2), True)
    assert shown(mine)[3][1:5] == (4, 4, 0, None)


def test_a_project_without_stages_still_shows_on_the_account_page(project: Project, account: Account) -> None:
    """The account page reads projects joined to their stages: a project with none is one row
    of its own, not left out."""
    from delivery.selectors import account_projects

    Stage.objects.filter(project=project).delete()
    [shown] = account_projects(account)
    assert (shown.pk, shown.stage_total, shown.stage_done, shown.next_stage, shown.next_due) == (
        project.pk, 0, 0, None, None
    )
    assert shown.deal_name == project.deal.name and shown.owner_name == project.owner.get_full_name()


def test_a_delivery_person_sees_only_their_own_projects_and_managers_filter_by_owner(
    project: Project, delivery: User, deliverymgr: User, admin_user: User, rep: User
) -> None:
    other = make_user("delivery2", roles.DELIVERY_TEAM)
    assert list(client_for(other).get(url("my_deliveries")).context["page"].object_list) == []
    assert list(client_for(rep).get(url("my_deliveries")).context["page"].object_list) == []
    for manager in (deliverymgr, admin_user):
        response = client_for(manager).get(url("my_deliveries"))
        assert [p.pk for p in response.context["page"].object_list] == [project.pk]
        assert response.context["sees_all"] is True
    filtered = client_for(deliverymgr).get(url("my_deliveries"), {"owner": other.pk})
    # delivery2 owns no project, so is not even a choice: the filter is reported and ignored.
    assert "owner" in filtered.context["form"].errors
    only = client_for(deliverymgr).get(url("my_deliveries"), {"owner": delivery.pk, "state": "complete"})
    assert list(only.context["page"].object_list) == [] and only.context["filtered"]


def test_my_deliveries_needs_a_login(db: Any) -> None:
    response = Client().get(url("my_deliveries"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_my_deliveries_query_count_does_not_grow_with_projects(
    project: Project, account: Account, rep: User, salesmgr: User, deliverymgr: User, delivery: User,
    django_assert_max_num_queries: Any,
) -> None:
    deal2 = new_deal(account, rep, "Deal 2")
    accept_deal(deal2, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)
    clients = {"owner": client_for(delivery), "manager": client_for(deliverymgr)}
    for client in clients.values():
        client.get(url("my_deliveries"))  # warm up the session
    with_two = {name: queries(client, url("my_deliveries")) for name, client in clients.items()}
    for i in range(6):
        deal_i = new_deal(account, rep, f"Deal {i + 3}")
        accept_deal(deal_i, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)
    assert Project.objects.count() == 8
    with_eight = {name: queries(client, url("my_deliveries")) for name, client in clients.items()}
    assert with_eight == with_two
    # 8: the delivery manager's navigation counts the acceptance inbox (one grouped COUNT).
    with django_assert_max_num_queries(8):
        response = clients["manager"].get(url("my_deliveries"), {"owner": delivery.pk})
    assert len(response.context["page"].object_list) == 8


# --- The project page -----------------------------------------------------------------------


def test_the_project_page_shows_the_board_to_the_owner_with_actions(project: Project, delivery: User) -> None:
    response = client_for(delivery).get(url("project_detail", project.pk))
    assert response.status_code == 200
    html = response.content.decode()
    for name in ("Kickoff", "Installation", "Data migration", "Training", "Go-live"):
        assert name in html
    first = stage(project, 1)
    assert url("stage_start", first.pk) in html and url("stage_edit", first.pk) in html
    assert url("problem_create", project.account_id) in html
    assert url("portal_link_send", project.account_id) in html
    assert "Two robot arms" not in html  # no promise chosen for a stage yet


def test_the_project_page_shows_sign_off_history_and_the_link_state(
    project: Project, delivery: User, mailoutbox: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        link = signed_link(project, delivery)
    html = client_for(delivery).get(url("project_detail", project.pk)).content.decode()
    emailed = CustomerLink.objects.get(pk=link.pk).emailed_at
    assert emailed is not None and "emailed to Alice Martin" in html and "expires" in html
    customer_answers(link, signed_off=False, reason="The minutes miss the training dates.")
    services.stage_start(stage=stage(project, 1), by=delivery)
    customer_answers(signed_link(project, delivery))
    response = client_for(delivery).get(url("project_detail", project.pk))
    html = response.content.decode()
    assert "Sign-off history" in html and "The minutes miss the training dates." in html
    assert html.count("Alice Martin</strong>") == 2 and "203.0.113.9" in html
    assert "Changes requested" in html and "Signed off" in html
    board = {s.position: s for s in response.context["stages"]}
    assert board[1].state == "signed_off" and [s.decision for s in board[1].signoffs.all()] == [
        "changes_requested", "signed_off"
    ]


def test_the_project_page_hides_the_actions_from_other_roles(project: Project, rep: User, presales: User) -> None:
    first = stage(project, 1)
    for user in (rep, presales):
        response = client_for(user).get(url("project_detail", project.pk))
        assert response.status_code == 200
        assert url("stage_start", first.pk) not in response.content.decode()


def test_the_project_page_is_404_for_who_may_not_see_the_account(
    project: Project, rep2: User, outsider: User
) -> None:
    for user in (rep2, outsider):
        assert client_for(user).get(url("project_detail", project.pk)).status_code == 404
    assert client_for(rep2).get(url("project_detail", 999999)).status_code == 404


def test_an_overdue_stage_is_highlighted(project: Project, delivery: User) -> None:
    services.stage_update(stage=stage(project, 1), by=delivery, due_date=timezone.localdate() - timedelta(days=3))
    html = client_for(delivery).get(url("project_detail", project.pk)).content.decode()
    assert "Overdue: was due" in html


def test_the_project_page_query_count_does_not_grow(
    project: Project, delivery: User, rep: User, django_assert_max_num_queries: Any
) -> None:
    raise_problem(project.account, rep, project=project)
    raise_problem(project.account, rep, title="Second", project=project)
    client = client_for(delivery)
    client.get(url("project_detail", project.pk))
    before = queries(client, url("project_detail", project.pk))
    # More history everywhere: problems, sign-off answers and links, promises on stages.
    for i in range(6):
        raise_problem(project.account, rep, title=f"Problem {i}", project=project)
    customer_answers(signed_link(project, delivery), signed_off=False, reason="Not yet.")
    services.stage_start(stage=stage(project, 1), by=delivery)
    customer_answers(signed_link(project, delivery))
    signed_link(project, delivery, position=2, who="Bruno")
    promise = Promise.objects.get(deal=project.deal)
    for position in (2, 3, 4):
        services.stage_set_promises(stage=stage(project, position), by=delivery, promises=[promise])
    assert Problem.objects.filter(project=project).count() == 8
    assert queries(client, url("project_detail", project.pk)) == before
    with django_assert_max_num_queries(13):
        client.get(url("project_detail", project.pk))


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


# --- The problems list ----------------------------------------------------------------------


def test_the_problem_list_filters_and_keeps_them_in_the_url(
    project: Project, delivery: User, rep: User, deliverymgr: User
) -> None:
    account = project.account
    crit = raise_problem(account, rep, title="Line down", severity="critical", category="product_defect")
    low = raise_problem(account, rep, title="Typo on invoice")
    services.problem_resolve(problem=low, by=delivery, resolution="Fixed the template.")
    client = client_for(deliverymgr)
    rows = lambda response: [p.pk for p in response.context["page"].object_list]  # noqa: E731
    assert rows(client.get(url("problem_list"))) == [low.pk, crit.pk]
    assert rows(client.get(url("problem_list"), {"severity": "critical"})) == [crit.pk]
    assert rows(client.get(url("problem_list"), {"state": "resolved"})) == [low.pk]
    assert rows(client.get(url("problem_list"), {"category": "product_defect", "source": "staff"})) == [crit.pk]
    assert rows(client.get(url("problem_list"), {"q": "acme"})) == [low.pk, crit.pk]
    assert rows(client.get(url("problem_list"), {"q": "globex"})) == []
    assert rows(client.get(url("problem_list"), {"owner": delivery.pk})) == [low.pk, crit.pk]
    assert rows(client.get(url("problem_list"), {"account": account.pk, "state": "open"})) == [crit.pk]
    response = client.get(url("problem_list"), {"severity": "bogus", "state": "open"})
    assert response.status_code == 200 and "severity" in response.context["form"].errors
    assert rows(response) == [crit.pk]  # the valid filter still applies
    html = response.content.decode()
    assert "Line down" in html and "Typo on invoice" not in html
    assert '<option value="open" selected>' in html


def test_the_problem_list_shows_only_visible_rows(
    project: Project, rep: User, rep2: User, other_account: Account, outsider: User, salesmgr: User
) -> None:
    mine = raise_problem(project.account, rep, title="Ours")
    theirs = raise_problem(other_account, rep2, title="Theirs")
    assert [p.pk for p in client_for(rep).get(url("problem_list")).context["page"].object_list] == [mine.pk]
    assert [p.pk for p in client_for(rep2).get(url("problem_list")).context["page"].object_list] == [theirs.pk]
    assert list(client_for(outsider).get(url("problem_list")).context["page"].object_list) == []
    assert len(client_for(salesmgr).get(url("problem_list")).context["page"].object_list) == 2


def test_the_problem_list_pages_are_capped(project: Project, rep: User, monkeypatch: Any) -> None:
    from core.pagination import CappedPaginator

    monkeypatch.setattr(CappedPaginator, "cap", 5)
    for i in range(7):
        raise_problem(project.account, rep, title=f"Problem {i}")
    response = client_for(rep).get(url("problem_list"))
    assert response.context["page"].paginator.is_capped and "More than 5 problems" in response.content.decode()


def test_the_problem_list_query_count_does_not_grow(
    project: Project, rep: User, deliverymgr: User, django_assert_max_num_queries: Any
) -> None:
    for i in range(2):
        raise_problem(project.account, rep, title=f"Problem {i}", project=project)
    clients = [client_for(rep), client_for(deliverymgr)]
    for client in clients:
        client.get(url("problem_list"))
    params = {"state": "open", "q": "Acme"}
    before = [queries(client, url("problem_list"), **params) for client in clients]
    for i in range(6):
        raise_problem(project.account, rep, title=f"More {i}", severity="high")
    assert [queries(client, url("problem_list"), **params) for client in clients] == before
    with django_assert_max_num_queries(6):
        response = clients[0].get(url("problem_list"), params)
    assert len(response.context["page"].object_list) == 8


# --- Raising a problem ----------------------------------------------------------------------


@pytest.fixture
def presales_promise(deal: Any, presales: User) -> Promise:
    return handover_services.promise_record(
        deal=deal, by=presales, kind="integration", description="SAP integration out of the box", source="demo",
    )


@pytest.fixture
def traced(presales_promise: Promise, deal: Any, rep: User, salesmgr: User, deliverymgr: User, delivery: User) -> Project:
    return accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)


def test_the_problem_form_lists_the_accounts_promises_with_their_maker(
    traced: Project, delivery: User, theirs: Promise
) -> None:
    response = client_for(delivery).get(url("problem_create", traced.account_id), {"project": traced.pk})
    assert response.status_code == 200
    html = response.content.decode()
    assert "SAP integration out of the box" in html and "made by Presales" in html
    assert "Free coffee" not in html
    assert response.context["form"]["project"].value() == str(traced.pk)


def test_raising_a_problem_breaks_its_promise_and_records_the_event(
    traced: Project, delivery: User, presales_promise: Promise
) -> None:
    response = client_for(delivery).post(url("problem_create", traced.account_id), {
        "title": "No SAP connector", "description": "They expected it out of the box.", "category": "oversold",
        "severity": "high", "promises": [presales_promise.pk], "project": traced.pk,
    })
    problem = Problem.objects.get()
    assert response.status_code == 302 and response["Location"] == url("problem_detail", problem.pk)
    assert (problem.project, problem.raised_by, problem.source) == (traced, delivery, "staff")
    assert Promise.objects.get(pk=presales_promise.pk).state == "broken"
    assert Activity.objects.filter(event_type="delivery.problem.raised", data__problem=problem.pk).count() == 1


def test_a_critical_problem_emails_the_owner_the_managers_and_the_rep(
    project: Project, rep: User, delivery: User, deliverymgr: User, mailoutbox: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(rep).post(
            url("problem_create", project.account_id),
            {"title": "Line down", "category": "product_defect", "severity": "critical"},
        )
    assert response.status_code == 302
    [message] = mailoutbox
    assert {delivery.email, deliverymgr.email, rep.email} <= set(message.to)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"title": "x" * 201}, "title"),
        ({"title": ""}, "title"),
        ({"description": "x" * 10001}, "description"),
        ({"category": "blame_sales"}, "category"),
        ({"severity": "apocalyptic"}, "severity"),
        ({"project": "999999"}, "project"),
        ({"promises": ["999999"]}, "promises"),
    ],
)
def test_bad_problem_input_names_the_field_and_saves_nothing(
    project: Project, delivery: User, data: dict[str, Any], field: str
) -> None:
    post = {"title": "Slow", "category": "other", "severity": "low", **data}
    response = client_for(delivery).post(url("problem_create", project.account_id), post)
    assert response.status_code == 400
    assert list(errors(response)) == [field]
    assert f'id="id_{field}_error"' in response.content.decode()
    assert not Problem.objects.exists()


def test_a_promise_of_another_account_cannot_be_named(project: Project, delivery: User, theirs: Promise) -> None:
    response = client_for(delivery).post(url("problem_create", project.account_id), {
        "title": "Coffee", "category": "other", "severity": "low", "promises": [theirs.pk],
    })
    assert response.status_code == 400 and "promises" in errors(response)
    assert not Problem.objects.exists() and Promise.objects.get(pk=theirs.pk).state == "active"


def test_a_promise_not_yet_delivered_is_refused_by_the_service_on_the_field(
    deal: Any, rep: User, delivery: User
) -> None:
    promise = handover_services.promise_record(
        deal=deal, by=rep, kind="other", description="Early access", source="call"
    )
    response = client_for(rep).post(url("problem_create", deal.account_id), {
        "title": "Early", "category": "oversold", "severity": "low", "promises": [promise.pk],
    })
    assert response.status_code == 400 and "handover is accepted" in str(errors(response)["promises"])
    assert not Problem.objects.exists()


def test_raising_a_problem_is_404_on_someone_elses_account(project: Project, rep2: User, outsider: User) -> None:
    for user in (rep2, outsider):
        client = client_for(user)
        assert client.get(url("problem_create", project.account_id)).status_code == 404
        post = {"title": "X", "category": "other", "severity": "low"}
        assert client.post(url("problem_create", project.account_id), post).status_code == 404
    assert not Problem.objects.exists()


# --- The problem page and its actions --------------------------------------------------------


def test_the_problem_page_traces_to_the_maker_and_seller_not_the_new_owner(
    traced: Project, presales_promise: Promise, presales: User, rep: User, rep2: User, salesmgr: User,
    delivery: User,
) -> None:
    flows.account_reassign(account=traced.account, by=salesmgr, to_user=rep2, reason="departure")
    problem = services.problem_raise(
        account=traced.account, by=delivery, title="No SAP connector", category="oversold", severity="high",
        promises=[presales_promise],
    )
    response = client_for(salesmgr).get(url("problem_detail", problem.pk))
    assert response.status_code == 200
    [row] = response.context["attribution"]
    assert (row["made_by"], row["sold_by"]) == (presales, rep)
    html = response.content.decode()
    assert "<strong>Presales</strong>" in html and "Broken" in html
    assert [a.event_type for a in response.context["timeline"]] == ["delivery.problem.raised"]


def test_the_problem_page_is_404_for_outsiders(project: Project, rep: User, rep2: User, outsider: User) -> None:
    problem = raise_problem(project.account, rep)
    for user in (rep2, outsider):
        client = client_for(user)
        assert client.get(url("problem_detail", problem.pk)).status_code == 404
        assert client.post(url("problem_resolve", problem.pk), {"resolution": "x"}).status_code == 404
        assert client.post(url("problem_close", problem.pk)).status_code == 404
        assert client.post(url("problem_reopen", problem.pk), {"reason": "x"}).status_code == 404
    assert Problem.objects.get(pk=problem.pk).state == "open"


def test_resolving_closing_and_reopening_a_problem(project: Project, delivery: User, rep: User) -> None:
    problem = raise_problem(project.account, rep)
    owner, seller = client_for(delivery), client_for(rep)
    page = owner.get(url("problem_detail", problem.pk)).content.decode()
    assert url("problem_resolve", problem.pk) in page and url("problem_reopen", problem.pk) not in page
    assert owner.post(url("problem_resolve", problem.pk), {"resolution": "Tuned the database."}).status_code == 302
    resolved = Problem.objects.get(pk=problem.pk)
    assert resolved.state == "resolved" and resolved.resolution == "Tuned the database."
    assert owner.post(url("problem_close", problem.pk)).status_code == 302
    assert Problem.objects.get(pk=problem.pk).state == "closed"
    assert seller.post(url("problem_reopen", problem.pk), {"reason": "Slow again on Monday."}).status_code == 302
    reopened = Problem.objects.get(pk=problem.pk)
    assert reopened.state == "open" and reopened.reopen_count == 1
    timeline = owner.get(url("problem_detail", problem.pk)).context["timeline"]
    assert [a.event_type for a in timeline][::-1] == [
        "delivery.problem.raised", "delivery.problem.resolved", "delivery.problem.closed", "delivery.problem.reopened"
    ]
    assert "Slow again on Monday." in owner.get(url("problem_detail", problem.pk)).content.decode()


def test_a_rep_may_not_resolve_or_close(project: Project, rep: User, delivery: User) -> None:
    problem = raise_problem(project.account, rep)
    client = client_for(rep)
    assert url("problem_resolve", problem.pk) not in client.get(url("problem_detail", problem.pk)).content.decode()
    assert client.post(url("problem_resolve", problem.pk), {"resolution": "Done"}).status_code == 403
    services.problem_resolve(problem=problem, by=delivery, resolution="Fixed.")
    assert client.post(url("problem_close", problem.pk)).status_code == 403
    assert Problem.objects.get(pk=problem.pk).state == "resolved"


@pytest.mark.parametrize(("action", "data", "field"), [
    ("problem_resolve", {"resolution": ""}, "resolution"),
    ("problem_resolve", {"resolution": "x" * 5001}, "resolution"),
    ("problem_reopen", {"reason": "  "}, "reason"),
    ("problem_reopen", {"reason": "x" * 5001}, "reason"),
])
def test_bad_problem_action_input_names_the_field(
    project: Project, delivery: User, rep: User, action: str, data: dict[str, str], field: str
) -> None:
    problem = raise_problem(project.account, rep)
    if action == "problem_reopen":
        services.problem_resolve(problem=problem, by=delivery, resolution="Fixed.")
    state = Problem.objects.get(pk=problem.pk).state
    form = "resolve_form" if action == "problem_resolve" else "reopen_form"
    response = client_for(delivery).post(url(action, problem.pk), data)
    assert response.status_code == 400
    assert list(response.context[form].errors) == [field]
    assert Problem.objects.get(pk=problem.pk).state == state
    assert Activity.objects.filter(event_type__startswith="delivery.problem.").count() == (
        1 if action == "problem_resolve" else 2
    )


def test_illegal_problem_transitions_are_409(project: Project, delivery: User, rep: User) -> None:
    problem = raise_problem(project.account, rep)
    client = client_for(delivery)
    assert client.post(url("problem_close", problem.pk)).status_code == 409  # open: resolve first
    assert client.post(url("problem_reopen", problem.pk), {"reason": "Again"}).status_code == 409
    services.problem_resolve(problem=problem, by=delivery, resolution="Fixed.")
    response = client.post(url("problem_resolve", problem.pk), {"resolution": "Fixed twice"})
    assert response.status_code == 409
    assert Problem.objects.get(pk=problem.pk).resolution == "Fixed."


# --- The customer portal link ---------------------------------------------------------------


def test_sending_the_portal_link_emails_the_contact(
    project: Project, delivery: User, mailoutbox: Any, django_capture_on_commit_callbacks: Any
) -> None:
    alice = contact(project.account, "Alice")
    back = url("project_detail", project.pk)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(delivery).post(
            url("portal_link_send", project.account_id), {"contact": alice.pk, "next": back}
        )
    assert response.status_code == 302 and response["Location"] == back
    link = CustomerLink.objects.get(purpose="portal")
    assert link.contact == alice and link.emailed_at is not None and link.reusable
    assert [m.to for m in mailoutbox] == [["alice@acme.example"]] and "/c/portal/open/" in mailoutbox[0].body
    assert Activity.objects.filter(event_type="delivery.portal_link_sent").count() == 1
    html = client_for(delivery).get(back).content.decode()
    assert "Revoke the portal link" in html and "emailed to Alice Martin" in html


def test_the_portal_link_goes_only_back_to_our_own_pages(project: Project, delivery: User) -> None:
    alice = contact(project.account, "Alice")
    response = client_for(delivery).post(
        url("portal_link_send", project.account_id), {"contact": alice.pk, "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("crm:account_detail", args=[project.account_id])


@pytest.mark.parametrize("who", ["Greta", "unknown", ""])
def test_a_bad_portal_contact_names_the_field_and_sends_nothing(
    project: Project, delivery: User, other_account: Account, who: str, mailoutbox: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    pk = {"Greta": contact(other_account, "Greta").pk, "unknown": 999999, "": ""}[who]
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(delivery).post(url("portal_link_send", project.account_id), {"contact": pk})
    assert response.status_code == 400 and list(errors(response)) == ["contact"]
    assert 'id="id_contact_error"' in response.content.decode()
    assert not CustomerLink.objects.exists() and mailoutbox == []


def test_a_contact_who_asked_not_to_be_contacted_gets_no_portal_link(project: Project, delivery: User) -> None:
    alice = contact(project.account, "Alice")
    type(alice).objects.filter(pk=alice.pk).update(do_not_contact=True)
    response = client_for(delivery).post(url("portal_link_send", project.account_id), {"contact": alice.pk})
    assert response.status_code == 400 and "contact" in errors(response)
    assert not CustomerLink.objects.exists()


def test_the_portal_link_is_offered_to_the_same_reachable_contacts_on_the_account_and_project_pages(
    project: Project, rep: User, delivery: User
) -> None:
    """The account page passes the contacts it has read (crm's account_page_sections signal);
    the project page reads them: the same choices, primary first, then by name."""
    account = project.account
    for first, extra in (("bob", {"email": "bob@acme.example"}),
                         ("Carla", {"email": "carla@acme.example", "is_primary": True}),
                         ("Nomail", {}), ("Quiet", {"email": "q@acme.example", "do_not_contact": True}),
                         ("Gone", {"email": "gone@acme.example"})):
        crm_services.contact_create(account=account, by=rep, first_name=first, last_name="X", **extra)
    flows.contact_update(contact=contact(account, "Gone"), by=rep, is_active=False, left_at=date(2026, 1, 5))
    client = client_for(delivery)
    pages = (reverse("crm:account_detail", args=[account.pk]), url("project_detail", project.pk))
    offered = []
    for page in pages:
        html = client.get(page).content.decode()
        select = html.split('name="contact"', 1)[1].split("</select>", 1)[0]
        offered.append([label.split(" ", 1)[0] for label in re.findall(r"<option value=\"\d+\"[^>]*>([^<]+)<", select)])
    assert offered[0] == offered[1] == ["Carla", "Alice", "bob", "Bruno"]


def test_revoking_the_portal_link(project: Project, delivery: User, rep2: User) -> None:
    alice = contact(project.account, "Alice")
    client = client_for(delivery)
    client.post(url("portal_link_send", project.account_id), {"contact": alice.pk})
    assert client_for(rep2).post(url("portal_link_revoke", project.account_id)).status_code == 404
    assert CustomerLink.objects.get(purpose="portal").revoked_at is None
    assert client.get(url("portal_link_revoke", project.account_id)).status_code == 405
    response = client.post(url("portal_link_revoke", project.account_id), follow=True)
    assert "Portal link revoked" in response.content.decode()
    assert CustomerLink.objects.get(purpose="portal").revoked_at is not None
    assert Activity.objects.filter(event_type="delivery.portal_link_revoked").count() == 1
    again = client.post(url("portal_link_revoke", project.account_id), follow=True)
    assert "no live portal link" in again.content.decode()


def test_the_portal_link_is_404_for_outsiders(project: Project, rep2: User, outsider: User) -> None:
    alice = contact(project.account, "Alice")
    for user in (rep2, outsider):
        assert client_for(user).post(url("portal_link_send", project.account_id), {"contact": alice.pk}).status_code == 404
    assert not CustomerLink.objects.exists()


# --- The account page's delivery section -----------------------------------------------------


def test_the_account_page_lists_the_deliveries_open_problems_and_the_portal_form(
    project: Project, rep: User, delivery: User
) -> None:
    open_one = raise_problem(project.account, rep, title="Screens are slow")
    done = raise_problem(project.account, rep, title="Old and fixed")
    services.problem_resolve(problem=done, by=delivery, resolution="Fixed.")
    response = client_for(delivery).get(reverse("crm:account_detail", args=[project.account_id]))
    assert response.status_code == 200
    # Other apps add their own sections through the same signal; ours is titled "Delivery".
    [section] = [s for s in response.context["sections"] if s["title"] == "Delivery"]
    html = response.content.decode()
    assert url("project_detail", project.pk) in html and "0/5" in html
    assert [p.pk for p in section["context"]["problems"]] == [open_one.pk]
    assert url("problem_detail", open_one.pk) in html and url("problem_detail", done.pk) not in html
    assert url("problem_create", project.account_id) in html
    assert url("portal_link_send", project.account_id) in html
    assert f"{url('problem_list')}?account={project.account_id}" in html


def test_a_prospect_without_deliveries_gets_no_delivery_section(account: Account, rep: User) -> None:
    response = client_for(rep).get(reverse("crm:account_detail", args=[account.pk]))
    assert [s for s in response.context["sections"] if s["title"] == "Delivery"] == []
    assert url("portal_link_send", account.pk) not in response.content.decode()


def test_the_account_page_query_count_does_not_grow_with_deliveries(
    project: Project, rep: User, delivery: User, django_assert_max_num_queries: Any
) -> None:
    client = client_for(delivery)
    path = reverse("crm:account_detail", args=[project.account_id])
    client.get(path)
    before = queries(client, path)
    for i in range(6):
        raise_problem(project.account, rep, title=f"Problem {i}", project=project)
    client_for(delivery).post(url("portal_link_send", project.account_id), {"contact": contact(project.account, "Alice").pk})
    assert queries(client, path) == before
    # The section itself (other apps' sections share the page): four queries at most with the
    # contacts the page has read (projects with their stages, problems, the team, the link).
    from delivery.selectors import account_section

    account = Account.objects.get(pk=project.account_id)
    contacts = list(account.contacts.all())
    for user in (delivery, rep):
        with django_assert_max_num_queries(4):
            section = account_section(account=account, user=user, contacts=contacts)
            assert section is not None
            assert "Alice Martin" in str(section["context"]["portal"]["form"])  # choices are preloaded
        assert len(section["context"]["problems"]) == 6
