"""Emails crm sends. Built here, sent by tasks, so a rolled-back transaction sends nothing."""

from __future__ import annotations

from typing import Any

from django.core.mail import EmailMultiAlternatives
from django.urls import reverse

from core.mail import email_message
from core.time_zones import zone_of
from crm.models import OwnershipChange


def ownership_notice(*, to_user: Any, changes: list[OwnershipChange]) -> EmailMultiAlternatives:
    """Tells a new owner which accounts are now theirs, with each handover note."""
    count = len(changes)
    subject = (
        f"You now own {changes[0].account.name}" if count == 1 else f"You now own {count} more accounts"
    )
    link = reverse("crm:account_detail", args=[changes[0].account_id]) if count == 1 else reverse("crm:account_list")
    return email_message(
        subject=subject, template="crm/email/ownership_notice", users=[to_user], link=link,
        context={"user": to_user, "changes": changes}, zone=zone_of(to_user), html=True,
    )
