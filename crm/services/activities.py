"""Activities: the calls, meetings, emails and notes people log on an account's timeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.validation import validate_model
from crm import permissions
from crm.models import Account, Activity, Deal

EARLIEST_ACTIVITY = datetime(2000, 1, 1, tzinfo=UTC)


@transaction.atomic
def activity_log(
    *, account: Account, by: Any, kind: str, subject: str, body: str = "",
    occurred_at: datetime | None = None, deal: Deal | None = None,
) -> Activity:
    permissions.require_can_log_activity(by, account)
    if kind not in Activity.LOGGABLE_KINDS:
        raise ValidationError({"kind": "Choose call, meeting, email or note."})
    occurred_at = occurred_at or timezone.now()
    if occurred_at > timezone.now() + timedelta(days=1):
        raise ValidationError(
            {"occurred_at": "An activity is logged once it has happened; this date is in the future."}
        )
    if occurred_at < EARLIEST_ACTIVITY:
        raise ValidationError({"occurred_at": "This date is too far in the past."})
    if deal is not None and deal.account_id != account.pk:
        raise ValidationError({"deal": "This deal belongs to another account."})
    activity = Activity(
        account=account, deal=deal, kind=kind, subject=subject, body=body, occurred_at=occurred_at, actor=by,
    )
    validate_model(activity, exclude=["actor", "deal", "account"])
    activity.save()
    return activity
