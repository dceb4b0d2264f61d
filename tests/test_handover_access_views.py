"""The handover pages answer 404 to outsiders, 403 to the wrong role and 405 to the wrong method,
and keep to their query budgets."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from crm import services as crm_services
from crm.models import Account, Deal
from flows import actions as flows
from handover import services
from handover.models import Handover, Promise, PromiseReview
from handover.urls import urlpatterns
from tests.scenarios import approved, client_for, record, submitted
from tests.scenarios import handover_state as state_of
from tests.scenarios import handover_url as url
from tests.scenarios import ready_to_submit as ready

pytestmark = pytest.mark.django_db


# --- Access: outsiders, wrong roles, methods ------------------------------------------------

OBJECT_URLS = [
    ("deal_promises", "get", "deal"), ("promise_record", "post", "deal"),
    ("promise_edit", "post", "promise"), ("promise_review", "post", "promise"),
    ("promise_reset", "post", "promise"), ("promise_withdraw", "post", "promise"),
    ("handover_detail", "get", "handover"), ("handover_summary", "get", "handover"),
    ("handover_save", "post", "handover"), ("handover_submit", "post", "handover"),
    ("handover_approve", "post", "handover"), ("handover_return", "post", "handover"),
    ("handover_accept", "post", "handover"), ("handover_reject", "post", "handover"),
]


@pytest.mark.parametrize(("name", "method", "kind"), OBJECT_URLS)
def test_another_reps_promise_and_handover_answer_404_on_read_and_every_action(
    name: str, method: str, kind: str, rep2: User, won: Handover, promise: Promise
) -> None:
    target = {"deal": won.deal_id, "promise": promise.pk, "handover": won.pk}[kind]
    response = getattr(client_for(rep2), method)(url(name, target), {"reason": "x", "verdict": "ok"})
    assert response.status_code == 404
    assert state_of(won) == "draft" and not PromiseReview.objects.exists()


@pytest.mark.parametrize(
    ("who", "action"),
    [("rep", "handover_approve"), ("salesmgr", "handover_accept"), ("deliverymgr", "handover_approve"),
     ("rep", "handover_accept"), ("rep", "handover_reject"), ("deliverymgr", "handover_return")],
)
def test_the_wrong_role_gets_403_and_the_state_stays(
    who: str, action: str, request: Any, rep: User, salesmgr: User, deliverymgr: User, delivery: User, won: Handover
) -> None:
    approved(won, rep, salesmgr) if action in ("handover_accept", "handover_reject") else submitted(won, rep)
    before = state_of(won)
    response = client_for(request.getfixturevalue(who)).post(
        url(action, won.pk), {"delivery_owner": delivery.pk, "reason": "because"}
    )
    assert response.status_code == 403 and state_of(won) == before


def test_a_rep_cannot_review_a_promise(rep: User, promise: Promise) -> None:
    assert client_for(rep).post(url("promise_review", promise.pk), {"verdict": "ok"}).status_code == 403
    assert not PromiseReview.objects.exists()


@pytest.mark.parametrize(("name", "method", "kind"), [u for u in OBJECT_URLS if u[1] == "post"])
def test_action_urls_refuse_get(name: str, method: str, kind: str, rep: User, won: Handover, promise: Promise) -> None:
    target = {"deal": won.deal_id, "promise": promise.pk, "handover": won.pk}[kind]
    assert client_for(rep).get(url(name, target)).status_code == 405


# The role x URL table: every URL of the handover namespace, and what each persona gets with an
# empty (or harmless) request against a draft handover. A new URL without a row fails the test below.
ROLES = ("rep", "outsider", "salesmgr", "deliverymgr", "delivery")
TABLE: dict[str, tuple[str, str | None, tuple[int, ...]]] = {
    #                      method  object      rep  outsider salesmgr deliverymgr delivery
    "deal_promises": ("get", "deal", (200, 404, 200, 200, 404)),
    "promise_record": ("post", "deal", (400, 404, 403, 403, 404)),
    "promise_edit": ("post", "promise", (400, 404, 403, 403, 404)),
    "promise_review": ("post", "promise", (403, 404, 400, 400, 404)),
    "promise_reset": ("post", "promise", (400, 404, 400, 403, 404)),
    "promise_withdraw": ("post", "promise", (400, 404, 400, 403, 404)),
    "my_handovers": ("get", None, (200, 200, 200, 200, 200)),
    "review_queue": ("get", None, (403, 403, 200, 403, 403)),
    "inbox": ("get", None, (403, 403, 403, 200, 403)),
    "handover_detail": ("get", "handover", (200, 404, 200, 200, 404)),
    "handover_summary": ("get", "handover", (200, 404, 200, 200, 404)),
    "handover_save": ("post", "handover", (302, 404, 302, 403, 404)),
    "handover_submit": ("post", "handover", (400, 404, 400, 403, 404)),
    "handover_approve": ("post", "handover", (403, 404, 302, 403, 404)),  # 302: a draft is a conflict
    "handover_return": ("post", "handover", (403, 404, 400, 403, 404)),
    "handover_accept": ("post", "handover", (403, 404, 403, 400, 404)),
    "handover_reject": ("post", "handover", (403, 404, 403, 400, 404)),
}


def test_every_handover_url_is_in_the_role_table() -> None:
    assert {p.name for p in urlpatterns} == set(TABLE)


@pytest.mark.parametrize(
    ("name", "role", "expected"),
    [(name, role, codes[i]) for name, (_m, _k, codes) in TABLE.items() for i, role in enumerate(ROLES)],
)
def test_the_role_table(
    name: str, role: str, expected: int, request: Any, won: Handover, promise: Promise, outsider: User,
    salesmgr: User, deliverymgr: User, delivery: User,
) -> None:
    method, kind, _codes = TABLE[name]
    args = [] if kind is None else [{"deal": won.deal_id, "promise": promise.pk, "handover": won.pk}[kind]]
    client = client_for(request.getfixturevalue(role))
    response = getattr(client, method)(url(name, *args))
    assert response.status_code == expected


# --- Query budgets --------------------------------------------------------------------------


def _many_handovers(account: Account, rep: User, count: int, promises: int = 2) -> list[Handover]:
    made = []
    for i in range(count):
        deal = crm_services.deal_create(
            account=account, by=rep, name=f"Deal {i}", value="1000",
            line_items=[{"kind": "product", "name": "Robot", "quantity": 1, "unit_price": "1000"}],
        )
        for j in range(promises):
            record(deal, rep, f"Promise {i}.{j}")
        flows.deal_win(deal=deal, by=rep)
        made.append(Handover.objects.get(deal=deal))
    return made


def test_the_review_queue_query_count_does_not_grow_with_handovers(
    rep: User, salesmgr: User, account: Account, django_assert_max_num_queries: Any
) -> None:
    for handover in _many_handovers(account, rep, 21):
        submitted(handover, rep)
        services.promise_review(promise=handover.deal.promises.first(), by=salesmgr, verdict="ok")
    client = client_for(salesmgr)
    with django_assert_max_num_queries(10):
        response = client.get(url("review_queue"))
    assert response.content.decode().count('class="card queue-item"') == 21


def test_the_inbox_query_count_does_not_grow_with_handovers(
    rep: User, salesmgr: User, deliverymgr: User, delivery: User, account: Account, django_assert_max_num_queries: Any
) -> None:
    for handover in _many_handovers(account, rep, 21):
        approved(handover, rep, salesmgr)
    client = client_for(deliverymgr)
    with django_assert_max_num_queries(12):  # 12 with the header's unread count (the bell)
        response = client.get(url("inbox"))
    assert response.content.decode().count("queue-item") == 21


def test_the_handover_page_query_count_does_not_grow_with_promises(
    rep: User, salesmgr: User, won: Handover, deal: Deal, django_assert_max_num_queries: Any
) -> None:
    for i in range(24):
        p = record(deal, rep, f"Extra promise {i}")
        services.promise_review(promise=p, by=salesmgr, verdict="at_risk", comment="Check")
    ready(won, rep)
    client = client_for(rep)
    with django_assert_max_num_queries(20):
        response = client.get(url("handover_detail", won.pk))
    assert response.content.decode().count('class="promise promise-') == 25


def test_my_handovers_query_count_does_not_grow(rep: User, account: Account, django_assert_max_num_queries: Any) -> None:
    _many_handovers(account, rep, 21, promises=1)
    client = client_for(rep)
    with django_assert_max_num_queries(7):
        response = client.get(url("my_handovers"))
    assert response.status_code == 200
