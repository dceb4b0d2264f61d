"""crm's pages answer 404 to outsiders and 403 to the wrong role for every object, and keep to
their query budgets."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from crm import services
from crm.models import Account, AccountTeamMember, Activity, Contact, Deal, OwnershipChange
from flows import actions as flows
from tests.scenarios import client_for, line_items
from tests.scenarios import crm_url as url

pytestmark = pytest.mark.django_db


def activity_on(account: Account) -> Activity:
    return Activity.objects.filter(account=account).order_by("pk").first()  # type: ignore[return-value]


# --- Access rules ---------------------------------------------------------------------------


@pytest.fixture
def rep_objects(rep: User, account: Account, deal: Deal) -> dict[str, Any]:
    return {
        "account": account,
        "contact": account.contacts.first(),
        "deal": deal,
        "activity": activity_on(account),
        "member": AccountTeamMember.objects.get(account=account, role="presales"),
    }


OUTSIDER_URLS = [
    ("get", "account_detail", "account"), ("get", "account_edit", "account"), ("post", "account_edit", "account"),
    ("get", "account_timeline", "account"), ("post", "activity_log", "account"),
    ("get", "contact_create", "account"), ("post", "contact_create", "account"),
    ("get", "team_add", "account"), ("post", "team_add", "account"),
    ("get", "account_reassign", "account"), ("post", "account_reassign", "account"),
    ("get", "deal_create", "account"), ("post", "deal_create", "account"),
    ("get", "activity_detail", "activity"),
    ("get", "contact_edit", "contact"), ("post", "contact_edit", "contact"), ("post", "contact_left", "contact"),
    ("post", "team_end", "member"),
    ("get", "deal_detail", "deal"), ("get", "deal_edit", "deal"), ("post", "deal_edit", "deal"),
    ("post", "deal_move", "deal"), ("post", "deal_win", "deal"), ("post", "deal_lose", "deal"),
    ("get", "account_merge", "account"), ("post", "account_merge", "account"),
    ("post", "account_archive", "account"), ("post", "account_restore", "account"),
    ("get", "contact_merge", "contact"), ("post", "contact_merge", "contact"),
    ("post", "contact_archive", "contact"), ("post", "contact_restore", "contact"),
]


@pytest.mark.parametrize(("method", "name", "kind"), OUTSIDER_URLS)
def test_it_returns_404_for_another_reps_objects(
    outsider: User, rep_objects: dict[str, Any], method: str, name: str, kind: str,
) -> None:
    before = (Activity.objects.count(), OwnershipChange.objects.count(), Contact.objects.filter(is_active=True).count())
    data = {"name": "Hijack", "to": "won", "reason": "x", "subject": "x", "kind": "call", "first_name": "X", "to_user": outsider.pk}
    response = getattr(client_for(outsider), method)(url(name, rep_objects[kind].pk), data)
    assert response.status_code == 404
    after = (Activity.objects.count(), OwnershipChange.objects.count(), Contact.objects.filter(is_active=True).count())
    assert after == before
    assert Deal.objects.get(pk=rep_objects["deal"].pk).stage == "lead"


def test_a_delivery_member_on_the_team_cannot_open_a_deal(rep: User, delivery: User, account: Account) -> None:
    services.team_member_add(account=account, by=rep, user=delivery, role="support")
    client = client_for(delivery)
    assert client.get(url("account_detail", account.pk)).status_code == 200
    assert client.get(url("deal_create", account.pk)).status_code == 403
    assert client.post(url("deal_create", account.pk), {"name": "D", "value": "1", "currency": "EUR", **line_items()}).status_code == 403
    assert not Deal.objects.exists()


def test_a_delivery_manager_cannot_work_deals(deliverymgr: User, deal: Deal) -> None:
    client = client_for(deliverymgr)
    assert client.get(url("deal_detail", deal.pk)).status_code == 200
    assert client.post(url("deal_win", deal.pk)).status_code == 403
    deal.refresh_from_db()
    assert deal.stage == "lead"


def test_a_rep_cannot_reassign(rep: User, rep2: User, account: Account) -> None:
    client = client_for(rep)
    assert client.post(url("account_reassign", account.pk), {"to_user": rep2.pk, "reason": "reassignment"}).status_code == 403
    assert client.post(url("book_reassign"), {"from_user": rep.pk, "to_user": rep2.pk, "reason": "departure", "confirm": "1"}).status_code == 403
    account.refresh_from_db()
    assert account.owner == rep


def test_a_rep_cannot_deactivate_anyone(rep: User, rep2: User) -> None:
    assert client_for(rep).post(url("user_deactivate", rep2.pk), {}).status_code == 403
    rep2.refresh_from_db()
    assert rep2.is_active


def test_presales_cannot_change_the_team(presales: User, rep2: User, account: Account) -> None:
    assert client_for(presales).post(url("team_add", account.pk), {"user": rep2.pk, "role": "support"}).status_code == 403


@pytest.mark.parametrize("name", ["activity_log", "contact_left", "team_end", "deal_move", "deal_win", "deal_lose",
                                  "account_archive", "account_restore", "contact_archive", "contact_restore",
                                  "deal_reopen"])
def test_action_urls_answer_405_to_get(rep: User, rep_objects: dict[str, Any], name: str) -> None:
    kind = {"activity_log": "account", "contact_left": "contact", "team_end": "member", "account_archive": "account",
            "account_restore": "account", "contact_archive": "contact", "contact_restore": "contact"}.get(name, "deal")
    assert client_for(rep).get(url(name, rep_objects[kind].pk)).status_code == 405


def test_csrf_is_enforced_on_ui_posts(rep: User, account: Account, deal: Deal) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(rep)
    before = Activity.objects.count()
    assert client.post(url("activity_log", account.pk), {"kind": "call", "subject": "x"}).status_code == 403
    assert client.post(url("deal_win", deal.pk)).status_code == 403
    assert Activity.objects.count() == before


# Role x UI URL: the expected answer to a GET. A new named URL fails the completeness test until
# it is added here. Columns: anonymous, rep (owner), outsider rep, sales manager, delivery
# manager, delivery team member (on no team).
PERSONAS = ["anonymous", "rep", "outsider", "salesmgr", "deliverymgr", "delivery"]
ROLE_TABLE: dict[str, tuple[str | None, tuple[int, ...]]] = {
    "home": (None, (302, 302, 302, 302, 302, 302)),
    "account_list": (None, (302, 200, 200, 200, 200, 200)),
    "account_export": (None, (302, 200, 200, 200, 200, 200)),
    "account_create": (None, (302, 200, 200, 200, 403, 403)),
    "account_detail": ("account", (302, 200, 404, 200, 200, 404)),
    "account_edit": ("account", (302, 200, 404, 200, 200, 404)),
    "account_timeline": ("account", (302, 302, 404, 302, 302, 404)),
    "activity_log": ("account", (302, 405, 405, 405, 405, 405)),
    "contact_create": ("account", (302, 200, 404, 200, 200, 404)),
    "team_add": ("account", (302, 200, 404, 200, 403, 404)),
    "account_reassign": ("account", (302, 403, 404, 200, 403, 404)),
    "deal_create": ("account", (302, 200, 404, 200, 403, 404)),
    "activity_detail": ("activity", (302, 200, 404, 200, 200, 404)),
    "contact_edit": ("contact", (302, 200, 404, 200, 200, 404)),
    "contact_left": ("contact", (302, 405, 405, 405, 405, 405)),
    "team_end": ("member", (302, 405, 405, 405, 405, 405)),
    "pipeline": (None, (302, 200, 200, 200, 200, 200)),
    "deal_detail": ("deal", (302, 200, 404, 200, 200, 404)),
    "deal_edit": ("deal", (302, 200, 404, 200, 403, 404)),
    "deal_move": ("deal", (302, 405, 405, 405, 405, 405)),
    "deal_win": ("deal", (302, 405, 405, 405, 405, 405)),
    "deal_lose": ("deal", (302, 405, 405, 405, 405, 405)),
    "deal_reopen": ("deal", (302, 405, 405, 405, 405, 405)),
    "book_reassign": (None, (302, 403, 403, 200, 403, 403)),
    "user_list": (None, (302, 403, 403, 200, 403, 403)),
    "user_deactivate": ("user", (302, 403, 403, 200, 403, 403)),
    "profile": (None, (302, 200, 200, 200, 200, 200)),
    # The lists and their exports show what each person may see (an outsider's are empty).
    "contact_list": (None, (302, 200, 200, 200, 200, 200)),
    "contact_export": (None, (302, 200, 200, 200, 200, 200)),
    "deal_list": (None, (302, 200, 200, 200, 200, 200)),
    "deal_export": (None, (302, 200, 200, 200, 200, 200)),
    "account_merge": ("account", (302, 403, 404, 200, 403, 404)),
    "account_archive": ("account", (302, 405, 405, 405, 405, 405)),
    "account_restore": ("account", (302, 405, 405, 405, 405, 405)),
    "contact_merge": ("contact", (302, 403, 404, 200, 403, 404)),
    "contact_archive": ("contact", (302, 405, 405, 405, 405, 405)),
    "contact_restore": ("contact", (302, 405, 405, 405, 405, 405)),
}


def test_every_named_crm_url_is_in_the_role_table() -> None:
    from crm import urls

    names = {p.name for p in urls.urlpatterns if getattr(p, "name", None)}
    assert names == set(ROLE_TABLE), f"missing from ROLE_TABLE: {names - set(ROLE_TABLE)}; stale: {set(ROLE_TABLE) - names}"


def test_each_role_gets_the_expected_answer_on_each_page(
    rep_objects: dict[str, Any], outsider: User, salesmgr: User, deliverymgr: User, delivery: User, rep2: User,
) -> None:
    users = {"anonymous": None, "rep": rep_objects["account"].owner, "outsider": outsider, "salesmgr": salesmgr,
             "deliverymgr": deliverymgr, "delivery": delivery}
    objects = {**rep_objects, "user": rep2}
    clients = {name: client_for(user) for name, user in users.items()}
    failures = []
    for name, (kind, expected) in ROLE_TABLE.items():
        path = url(name, objects[kind].pk) if kind else url(name)
        for persona, status in zip(PERSONAS, expected, strict=True):
            got = clients[persona].get(path).status_code
            if got != status:
                failures.append(f"{name} as {persona}: expected {status}, got {got}")
    assert not failures, "\n".join(failures)


# --- Query budgets --------------------------------------------------------------------------


def test_the_accounts_list_query_count_does_not_grow_with_rows(rep: User, django_assert_max_num_queries: Any) -> None:
    for i in range(60):
        services.account_create(by=rep, name=f"Account {i:02d}")
    client = client_for(rep)
    with django_assert_max_num_queries(10):
        response = client.get(url("account_list"), {"threads": "single", "q": "Account"})
    assert len(response.context["page"].object_list) == 50


def test_the_account_page_query_count_does_not_grow_with_history(
    rep: User, rep2: User, account: Account, deal: Deal, django_assert_max_num_queries: Any,
) -> None:
    for i in range(4):
        services.contact_create(account=account, by=rep, first_name=f"Person {i}")
        services.deal_create(account=account, by=rep, name=f"Deal {i}", line_items=[{"name": "Thing", "quantity": 1, "unit_price": 5}])
    for i in range(60):
        services.activity_log(account=account, by=rep if i % 2 else rep2, kind="call", subject=f"Call {i}", deal=deal)
    client = client_for(rep)
    with django_assert_max_num_queries(14):
        response = client.get(url("account_detail", account.pk))
    assert len(response.context["page"].timeline) == 30


def test_the_pipeline_query_count_does_not_grow_with_deals(rep: User, account: Account, django_assert_max_num_queries: Any) -> None:
    for i in range(40):
        deal = services.deal_create(account=account, by=rep, name=f"Deal {i}", value="100")
        if i % 4 == 1:
            services.deal_move(deal=deal, by=rep, to="proposal")
        elif i % 4 == 2:
            flows.deal_win(deal=deal, by=rep)
    client = client_for(rep)
    with django_assert_max_num_queries(12):
        response = client.get(url("pipeline"))
    assert sum(c.count for c in response.context["columns"]) == 40


@pytest.mark.parametrize("template", ["403.html", "404.html", "500.html"])
def test_error_pages_render_without_a_request(template: str) -> None:
    from django.template.loader import get_template

    html = get_template(template).render({})
    assert "Keepwarm" in html and "<script>" not in html


def test_a_missing_page_shows_the_friendly_404(rep: User) -> None:
    response = client_for(rep).get(url("account_detail", 999999))
    assert response.status_code == 404
    assert b"not yours to see" in response.content
