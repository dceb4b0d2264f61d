"""What every app's views share: how a page answers a state that refuses the request (409),
where to go after an action, a permission check as a yes/no for a button, whether htmx asked,
and a POST's data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

from core.exceptions import Conflict


def conflict_response(
    request: HttpRequest, exc: Conflict, back: str, *, alerts: bool = True, page: str | None = None
) -> HttpResponse:
    """A valid request the object's state refuses (Conflict), answered the same way in every app:
    409 with the message for htmx, shown in the page's alert area (`alerts`) or where the request
    aimed; otherwise back to the page with the message, or, given a `page` template, a page
    saying what happened and the way back."""
    if getattr(request, "htmx", False):
        response = render(request, "core/_conflict.html", {"message": str(exc)}, status=409)
        if alerts:
            response["HX-Retarget"] = "#alerts"
            response["HX-Reswap"] = "innerHTML"
        return response
    if page is not None:
        return render(request, page, {"message": str(exc), "back": back}, status=409)
    messages.error(request, str(exc))
    return HttpResponseRedirect(back)


def next_url(request: HttpRequest, default: str) -> str:
    """Where to go after an action: the posted `next` (the queue, inbox or week it came from)
    when it is one of ours, else `default`. Shared by the apps' action views."""
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


def allowed(check: Callable[..., None], *args: Any) -> bool:
    """Turns a require_* permission helper into a yes/no for showing or hiding a button."""
    try:
        check(*args)
    except PermissionDenied:
        return False
    return True


def is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def posted(request: HttpRequest) -> Any:
    """The form data of a POST, even an empty one (an empty QueryDict would leave the form unbound)."""
    return request.POST if request.method == "POST" else None
