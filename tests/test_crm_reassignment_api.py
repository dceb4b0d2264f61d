"""crm's REST API for reassigning an account or a whole book."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from crm import services
from crm.models import (
    Account,
    Activity,
    Deal,
    OwnershipChange,
)
from tests.scenarios import API, api_for

# --- Book reassignment ----------------------------------------------------------------------


@pytest.fixture
def rep_book(account: Account, deal: Deal, rep: User) -> list[Account]:
    second = services.account_create(by=rep, name="Bolt Mobility")
    services.deal_create(account=second, by=rep, name="Fleet pilot")
    return [account, second]


def test_a_book_preview_writes_nothing(rep_book, rep, rep2, salesmgr, django_capture_on_commit_callbacks):
    ledger, events = OwnershipChange.objects.count(), Activity.objects.count()
    with django_capture_on_commit_callbacks() as callbacks:
        response = api_for(salesmgr).post(
            f"{API}/reassignments/", {"from_user": rep.pk, "to_user": rep2.pk, "preview": True}, format="json",
        )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["applied"] is False and body["account_count"] == 2
    assert {(r["account"], r["from_user"], r["to_user"]) for r in body["rows"]} == {
        (a.pk, rep.pk, rep2.pk) for a in rep_book
    }
    assert sum(r["open_deals"] for r in body["rows"]) == 2
    assert (OwnershipChange.objects.count(), Activity.objects.count()) == (ledger, events)
    assert Account.objects.filter(owner=rep).count() == 2 and callbacks == []


def test_a_book_reassignment_moves_every_account_with_exceptions(
    rep_book, rep, rep2, outsider, salesmgr, mailoutbox, django_capture_on_commit_callbacks,
):
    first, second = rep_book
    payload = {"from_user": rep.pk, "to_user": rep2.pk, "reason": "departure", "note": "Rep left",
               "assignments": [{"account": second.pk, "to_user": outsider.pk}]}
    with django_capture_on_commit_callbacks(execute=True):
        response = api_for(salesmgr).post(f"{API}/reassignments/", payload, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["applied"] is True
    assert Account.objects.get(pk=first.pk).owner == rep2 and Account.objects.get(pk=second.pk).owner == outsider
    assert OwnershipChange.objects.filter(reason="departure", from_user=rep).count() == 2
    assert not Deal.objects.open().filter(owner=rep).exists()
    assert sorted(m.to[0] for m in mailoutbox) == sorted([rep2.email, outsider.email])


def test_a_rep_cannot_reassign_a_book(rep_book, rep, rep2):
    response = api_for(rep).post(f"{API}/reassignments/", {"from_user": rep.pk, "to_user": rep2.pk}, format="json")
    assert response.status_code == 403
    assert Account.objects.filter(owner=rep).count() == 2


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"to_user": "rep2"}, "from_user"),
        ({"from_user": "rep"}, "to_user"),
        ({"from_user": "rep", "to_user": "rep"}, "to_user"),
        ({"from_user": "rep", "to_user": "rep2", "reason": "new"}, "reason"),
        ({"from_user": "rep", "to_user": "rep2", "assignments": [{"account": 999999, "to_user": "rep2"}]}, "assignments"),
        ({"from_user": "rep", "to_user": "rep2", "assignments": [{"account": 1}]}, "assignments"),
        ({"from_user": "rep", "to_user": "rep2", "note": "n" * 5001}, "note"),
    ],
)
def test_bad_book_reassignment_input_answers_400_and_writes_nothing(rep_book, rep, rep2, salesmgr, payload, field):
    people = {"rep": rep.pk, "rep2": rep2.pk}

    def resolve(value: Any) -> Any:
        if isinstance(value, list):
            return [{k: people.get(v, v) if k == "to_user" else v for k, v in row.items()} for row in value]
        return people.get(value, value) if isinstance(value, str) else value

    body = {k: (v if k in ("reason", "note") else resolve(v)) for k, v in payload.items()}
    response = api_for(salesmgr).post(f"{API}/reassignments/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert Account.objects.filter(owner=rep).count() == 2
