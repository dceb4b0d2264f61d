"""What several of crm's pages use: a permission check as a yes/no for a button, the answer to
a conflict, a POST's data, and a number read from the query string."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from core.exceptions import Conflict
from core.http import conflict_response


def allowed(check: Callable[..., None], *args: Any) -> bool:
    """Turns a require_* helper into a yes/no for showing or hiding a button."""
    try:
        check(*args)
    except PermissionDenied:
        return False
    return True


def conflict(request: HttpRequest, exc: Conflict, back: str) -> HttpResponse:
    # crm's pages swap the htmx answer where the request aimed, not into an alert area.
    return conflict_response(request, exc, back, alerts=False)


def posted(request: HttpRequest) -> Any:
    """The form data of a POST, even an empty one (an empty QueryDict would leave the form unbound)."""
    return request.POST if request.method == "POST" else None


def int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except (TypeError, ValueError):
        return None
