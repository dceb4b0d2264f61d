"""Emails crm sends. Built here, sent by tasks, so a rolled-back transaction sends nothing."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from crm.models import OwnershipChange


def ownership_notice(*, to_user: Any, changes: list[OwnershipChange]) -> EmailMultiAlternatives:
    """Tells a new owner which accounts are now theirs, with each handover note."""
    context = {"user": to_user, "changes": changes, "site_url": settings.SITE_URL}
    count = len(changes)
    subject = (
        f"You now own {changes[0].account.name}" if count == 1 else f"You now own {count} more accounts"
    )
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("crm/email/ownership_notice.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to_user.email],
    )
    message.attach_alternative(render_to_string("crm/email/ownership_notice.html", context), "text/html")
    return message
