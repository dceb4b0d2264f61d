"""Two managers merging the same pair at once, in opposite directions: both accounts are locked
in primary-key order, so one merge wins and the other is refused cleanly; no deadlock, no
half-merged pair. On PostgreSQL only (SQLite serialises writers)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from core.exceptions import Conflict
from crm import roles, services
from crm.models import Account, Activity
from flows import actions as flows
from tests.scenarios import make_user, run_together

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="concurrency tests need PostgreSQL row locks: set DATABASE_URL=postgres://... (CI does)",
    ),
]


def test_opposite_merges_of_one_pair_leave_one_survivor(rep, salesmgr):
    other_manager = make_user("salesmgr2", roles.SALES_MANAGER)
    first = services.account_create(by=rep, name="Falcon Freight")
    second = services.account_create(by=rep, name="Falcon Freight GmbH")

    results = run_together(
        lambda: flows.account_merge(account=first, into=second, by=salesmgr),
        lambda: flows.account_merge(account=second, into=first, by=other_manager),
    )

    won = [r for r in results if isinstance(r, Account)]
    refused = [r for r in results if not isinstance(r, Account)]
    assert len(won) == 1 and len(refused) == 1, results
    # The loser saw the pair after the winner's commit: its account, or its survivor, is a tombstone.
    assert isinstance(refused[0], (Conflict, ValidationError)), refused
    assert "merged into another account" in str(refused[0])
    survivor = won[0]
    tombstone = Account.objects.exclude(pk=survivor.pk).get(pk__in=[first.pk, second.pk])
    assert tombstone.merged_into_id == survivor.pk
    assert Account.objects.get(pk=survivor.pk).merged_into_id is None
    assert Activity.objects.filter(event_type="account.merged").count() == 2  # one merge, on both timelines
