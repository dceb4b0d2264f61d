"""crm's reassignment pages: an account or a whole book to another rep."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail

from crm import services
from crm.models import Account, Deal, OwnershipChange
from tests.scenarios import client_for
from tests.scenarios import crm_url as url

pytestmark = pytest.mark.django_db


# --- Reassignment ---------------------------------------------------------------------------


def test_a_manager_reassigns_one_account(
    salesmgr: User, rep: User, rep2: User, account: Account, deal: Deal, django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(salesmgr).post(
            url("account_reassign", account.pk), {"to_user": rep2.pk, "reason": "territory", "note": "Call Alice first."}
        )
    assert response.status_code == 302
    account.refresh_from_db()
    deal.refresh_from_db()
    assert account.owner == rep2 and deal.owner == rep2
    change = OwnershipChange.objects.get(account=account, reason="territory")
    assert (change.from_user, change.to_user, change.assigned_by, change.note) == (rep, rep2, salesmgr, "Call Alice first.")
    assert [m.to for m in mail.outbox] == [[rep2.email]]


def test_reassigning_to_the_current_owner_names_the_field(salesmgr: User, rep: User, account: Account) -> None:
    response = client_for(salesmgr).post(url("account_reassign", account.pk), {"to_user": rep.pk, "reason": "reassignment"})
    assert response.status_code == 200
    assert "already owns" in str(response.context["form"].errors["to_user"])
    assert OwnershipChange.objects.filter(account=account).count() == 1


def test_a_book_reassignment_is_previewed_then_applied(
    salesmgr: User, rep: User, rep2: User, account: Account, deal: Deal,
) -> None:
    second = services.account_create(by=rep, name="Umbrella")
    client = client_for(salesmgr)
    form = {"from_user": rep.pk, "to_user": rep2.pk, "reason": "departure", "note": "Rep left."}
    preview = client.post(url("book_reassign"), form)
    assert preview.status_code == 200
    assert preview.context["plan"].account_count == 2 and preview.context["plan"].open_deal_count == 1
    assert b"Reassign 2 accounts" in preview.content
    assert Account.objects.filter(owner=rep).count() == 2  # the preview changes nothing

    applied = client.post(url("book_reassign"), {**form, "confirm": "1"})
    assert applied.status_code == 302
    assert set(Account.objects.filter(owner=rep2).values_list("pk", flat=True)) >= {account.pk, second.pk}
    assert OwnershipChange.objects.filter(reason="departure", from_user=rep, to_user=rep2).count() == 2
    deal.refresh_from_db()
    assert deal.owner == rep2


def test_a_book_reassignment_to_the_same_person_names_the_field(salesmgr: User, rep: User, account: Account) -> None:
    response = client_for(salesmgr).post(url("book_reassign"), {"from_user": rep.pk, "to_user": rep.pk, "reason": "departure"})
    assert response.status_code == 200
    assert "to_user" in response.context["form"].errors
    assert "plan" not in response.context
