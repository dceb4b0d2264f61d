"""crm's notice in the outbox: a new owner's email about the accounts that are now theirs."""

from __future__ import annotations

import logging

from django.core.mail import EmailMessage
from django.utils import timezone

from crm import emails
from crm.models import OwnershipChange
from outbox import notices
from outbox.models import Notice

logger = logging.getLogger(__name__)

OWNERSHIP_NOTICE = "crm.ownership_notice"


def ownership_notice_key(change_ids: list[int]) -> str:
    """One email per batch of changes to one new owner; a change is in one batch only."""
    return f"{OWNERSHIP_NOTICE}:{min(change_ids)}"


def record_ownership_notice(notice: Notice) -> None:
    """What the ledger's admin shows: when the new owner was told, or why they could not be (a
    failed notice that staff retry from the outbox's admin clears it when it goes)."""
    unsent = OwnershipChange.objects.filter(pk__in=notice.data["changes"], notified_at__isnull=True)
    if notice.state in (Notice.State.SENT, Notice.State.SKIPPED):
        unsent.update(notified_at=notice.sent_at or timezone.now(), notice_failed_at=None, notice_error="")
    elif notice.state == Notice.State.FAILED:
        unsent.update(notice_failed_at=timezone.now(), notice_error=notice.last_error)


@notices.register(OWNERSHIP_NOTICE, outcome=record_ownership_notice, topic="assignments")
def ownership_notice(notice: Notice) -> list[EmailMessage]:
    """Tells a new owner which accounts are now theirs, with each handover note."""
    changes = list(
        OwnershipChange.objects.filter(pk__in=notice.data["changes"])
        .select_related("account", "to_user__profile", "from_user")
        .order_by("account__name")
    )
    if not changes:
        return []
    to_user = changes[0].to_user
    if not to_user.email:
        logger.warning("New owner %s has no email; ownership notice not sent", to_user.pk)
        return []
    return [emails.ownership_notice(to_user=to_user, changes=changes)]
