"""What several of the handover pages use: the answer to a conflict, an account's contacts and
a deal's promise ledger as the pages list them, and the acceptance deadline in words."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest, HttpResponse

from core.exceptions import Conflict
from core.http import conflict_response
from crm.models import Contact
from handover.models import Promise


def conflict(request: HttpRequest, exc: Conflict, back: str) -> HttpResponse:
    return conflict_response(request, exc, back)


def contacts_of(account_id: int) -> list[Contact]:
    return list(Contact.objects.filter(account_id=account_id).order_by("-is_active", "first_name", "last_name"))


def ledger_of(deal_id: int) -> list[Promise]:
    return list(Promise.objects.filter(deal_id=deal_id).with_reviews().select_related("reset_agreed_by"))


def countdown(deadline: datetime | None, now: datetime) -> str:
    """ "due in 1 day 3 h" / "overdue by 2 h": the acceptance deadline in words, server-side."""
    if deadline is None:
        return ""
    seconds = (deadline - now).total_seconds()
    minutes = int(abs(seconds) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days} day{'' if days == 1 else 's'}")
    if hours:
        parts.append(f"{hours} h")
    if not parts:
        parts.append(f"{mins} min")
    text = " ".join(parts)
    return f"due in {text}" if seconds >= 0 else f"overdue by {text}"
