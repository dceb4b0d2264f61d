"""What every customer-facing page (sign-off, survey, portal) shares, whichever app serves it.

The emailed URL carries the token once: the landing view checks it, puts the link's id in the
session and redirects to a URL without it (Django's PasswordResetConfirmView does the same), so
the token never sits in the address bar, the history or a Referer. Every response carries
`Cache-Control: no-store` and `Referrer-Policy: same-origin`. GET never changes anything.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

from customer_links import services as links
from customer_links.models import CustomerLink

SESSION_KEY = "customer_links"

PROBLEM_PAGES = {
    links.INVALID: (
        404,
        "This link doesn't work",
        "It may have been copied incompletely from the email. Open it again from the email, or ask the "
        "person who sent it for a new one.",
    ),
    links.WRONG_PURPOSE: (400, "This link is for something else", "Open the link from the email it came in."),
    links.WRONG_TARGET: (
        403,
        "This link is for a different item",
        "Each link works only for the one thing it was sent for. Open the link from the email about this item.",
    ),
    links.EXPIRED: (410, "This link has expired", "Links work for a limited time. Ask for a new one below."),
    links.REVOKED: (
        410,
        "This link is no longer valid",
        "It was replaced by a newer link or withdrawn. Use the most recent email you received, or ask for a "
        "new link below.",
    ),
    links.USED: (410, "This link has already been used", "It works once, and it has done its job."),
}


def customer_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Headers for customer pages: never cached, never leaked through a Referer, not indexed."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        add_never_cache_headers(response)
        response["Cache-Control"] = "no-store, no-cache, must-revalidate, private, max-age=0"
        # same-origin, not no-referrer: under no-referrer browsers send "Origin: null" with the
        # form's POST and Django's CSRF check refuses every sign-off (seen in Chromium). The token
        # is never in these pages' URLs, and nothing is sent to other origins either way.
        response["Referrer-Policy"] = "same-origin"
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response

    return wrapper


def land(
    request: HttpRequest, raw_token: str, *, purpose: str, landing_url: Callable[[CustomerLink], str]
) -> HttpResponse:
    """The emailed URL: check the token, move it to the session, redirect to a clean URL.
    Only the session changes; nothing in the database does (mail scanners open links)."""
    link = links.link_find(raw_token)
    check = links.link_check(link, purpose=purpose)
    if link is None or check.problem in (links.WRONG_PURPOSE,):
        return problem_page(request, check)
    # A used, expired or revoked link still lands, so its page can say so and offer renewal.
    _remember(request, link)
    return HttpResponseRedirect(landing_url(link))


def _remember(request: HttpRequest, link: CustomerLink) -> None:
    held = [pk for pk in request.session.get(SESSION_KEY, []) if pk != link.pk]
    request.session[SESSION_KEY] = [*held[-19:], link.pk]
    request.session.cycle_key()


def session_link(request: HttpRequest, *, purpose: str, target: Any) -> links.LinkCheck:
    """The link this browser holds for `purpose` and `target`, checked now."""
    ids = request.session.get(SESSION_KEY, [])
    if not ids:
        return links.LinkCheck(None, links.INVALID)
    held = list(
        CustomerLink.objects.select_related("account__owner", "contact").filter(pk__in=ids, purpose=purpose)
    )
    target_key = target if isinstance(target, str) else CustomerLink.target_of(target)
    # The most recently opened first: a newer link for the same target wins over an older one.
    latest_first = sorted(held, key=lambda item: ids.index(item.pk), reverse=True)
    for link in latest_first:
        if link.target == target_key:
            return links.link_check(link, purpose=purpose, target=target_key)
    if latest_first:
        return links.LinkCheck(latest_first[0], links.WRONG_TARGET)
    return links.LinkCheck(None, links.INVALID)


def problem_page(request: HttpRequest, check: links.LinkCheck, **context: Any) -> HttpResponse:
    status, title, explanation = PROBLEM_PAGES[check.problem or links.INVALID]
    link = check.link
    can_renew = link is not None and check.problem in (links.EXPIRED, links.REVOKED, links.WRONG_TARGET)
    return render(
        request,
        "customer/link_problem.html",
        {
            "title": title,
            "explanation": explanation,
            "problem": check.problem,
            "link": link if can_renew else None,
            "contact_person": link.account.owner if link is not None else None,
            **context,
        },
        status=status,
    )
