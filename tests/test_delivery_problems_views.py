"""The delivery staff pages for problems: the list, raising a problem (traced to the promise it
breaks) and working it on its page."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from crm.models import Account, Activity
from delivery import services
from delivery.models import Problem, Project
from flows import actions as flows
from handover import services as handover_services
from handover.models import Promise
from tests.scenarios import accept_deal, client_for, errors, queries, raise_problem
from tests.scenarios import delivery_url as url

pytestmark = pytest.mark.django_db


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
    # The saved views bar (one query) and the header's unread count (the bell, one query).
    with django_assert_max_num_queries(8):
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
