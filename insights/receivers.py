"""insights reacts to the lower apps' signals (it imports them; nobody imports insights)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.dispatch import receiver

from crm.signals import account_reassigned
from insights import snapshots


def _forget_all() -> None:
    for dashboard in snapshots.DASHBOARDS:
        snapshots.invalidate(dashboard)


@receiver(account_reassigned, dispatch_uid="insights.forget_snapshots_on_reassignment")
def forget_snapshots_on_reassignment(**_: Any) -> None:
    """A reassignment changes owners, orphans and whose book a check-up is in: every dashboard's
    snapshot is obsolete once it commits (a manager checks "orphans: 0" right after a bulk
    reassignment). Queued once per transaction, however many accounts it moves (a savepoint
    rolled back takes its queued callback with it, so the check stays true)."""
    queued = transaction.get_connection().run_on_commit
    if not any(entry[1] is _forget_all for entry in queued):
        transaction.on_commit(_forget_all)
