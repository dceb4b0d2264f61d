"""insights reacts to the lower apps' signals (it imports them; nobody imports insights)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.dispatch import receiver

from crm.signals import account_reassigned, accounts_merged
from insights import snapshots


def forget_every_dashboard() -> None:
    snapshots.invalidate(*snapshots.DASHBOARDS)


@receiver(account_reassigned, dispatch_uid="insights.forget_snapshots_on_reassignment")
def forget_snapshots_on_reassignment(**_: Any) -> None:
    """A reassignment changes owners, orphans and whose book a check-up is in: every dashboard's
    snapshot is obsolete once it commits (a manager checks "orphans: 0" right after a bulk
    reassignment), and not before (a concurrent request would keep figures read before the
    commit under the new version). Queued once per account moved: forgetting is idempotent and
    one cache write. A transaction rolled back takes its queued callbacks with it."""
    transaction.on_commit(forget_every_dashboard)


@receiver(accounts_merged, dispatch_uid="insights.forget_snapshots_on_merge")
def forget_snapshots_on_merge(**_: Any) -> None:
    """A merge moves deals, projects, problems and check-ups to another account and team: every
    dashboard's snapshot is obsolete once it commits."""
    transaction.on_commit(forget_every_dashboard)
