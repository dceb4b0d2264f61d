"""What several of delivery's pages use: the rows per list page and the answer to a conflict."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from core.exceptions import Conflict
from core.http import conflict_response

ROWS_PER_PAGE = 50



def conflict(request: HttpRequest, exc: Conflict, back: str) -> HttpResponse:
    # Without htmx, a page saying what happened and the way back rather than a flash message.
    return conflict_response(request, exc, back, page="delivery/conflict.html")
