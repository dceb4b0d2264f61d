"""The delivery staff pages for projects: the navigation, "my deliveries", the project's stage
board and the account page's delivery section; access rules and query budgets that do not grow
with the data."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm import roles
from crm import services as crm_services
from crm.models import Account
from customer_links.models import CustomerLink
from delivery import services
from delivery.models import Problem, Project, SignOff, Stage
from flows import actions as flows
from handover.models import Promise
from tests.scenarios import accept_deal, client_for, contact, make_user, queries, raise_problem, stage
from tests.scenarios import delivery_url as url

pytestmark = pytest.mark.django_db


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
    # 9: the delivery manager's navigation counts the acceptance inbox (one grouped COUNT), and
    # the header its unread notifications (the bell).
    with django_assert_max_num_queries(9):
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
    with django_assert_max_num_queries(14):  # 14 with the header's unread count (the bell)
        client.get(url("project_detail", project.pk))


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
