"""What several of crm's pages use: the answer to a conflict, and a number read from the query
string."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from core.exceptions import Conflict
from core.http import conflict_response


def conflict(request: HttpRequest, exc: Conflict, back: str) -> HttpResponse:
    # crm's pages swap the htmx answer where the request aimed, not into an alert area.
    return conflict_response(request, exc, back, alerts=False)



def int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except (TypeError, ValueError):
        return None
