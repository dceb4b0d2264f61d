"""Login throttling: a username and a client address are each paused on their own count.

django-axes 8.3.1 compares one number, the larger of the failures counted per lockout parameter,
with one AXES_FAILURE_LIMIT; with ["username", "ip_address"] that let five failures of anyone
behind one address (an office, a VPN) lock everybody there out. The handler below keeps axes'
records and its cool-off, but holds each count to its own limit: AXES_FAILURE_LIMIT for a
username (a guessed password), AXES_ADDRESS_FAILURE_LIMIT, higher, for an address (one client
trying many usernames). The lockout response says which of the two is paused and until when.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone


@dataclass(frozen=True)
class LoginPause:
    """What is paused ("username" or "address"), for whom, and until when."""

    paused: str
    username: str
    failure_limit: int
    until: datetime

    def retry_after(self, now: datetime) -> int:
        """Whole seconds until the pause ends (Retry-After), at least 1."""
        return max(1, math.ceil((self.until - now).total_seconds()))

    def message(self) -> str:
        when = timezone.localtime(self.until).strftime("%H:%M %Z")
        if self.paused == "username":
            return f"Logging in as {self.username} is paused until {when} after {self.failure_limit} failed attempts."
        return (
            f"Logging in from this network address is paused until {when} after {self.failure_limit} "
            "failed attempts from it."
        )


def _cool_off() -> timedelta:
    # Our settings always give AXES_COOLOFF_TIME as a timedelta: a cool-off, never a ban.
    cool_off: timedelta = settings.AXES_COOLOFF_TIME
    return cool_off


def _pause_end(attempts: QuerySet[AccessAttempt], limit: int, since: datetime) -> datetime | None:
    """When the failures in the cool-off window drop below the limit, or None if they are below it.

    Each record counts while its last failure is inside the window; the pause ends when the
    record that brought the newest ones up to the limit leaves the window.
    """
    total = 0
    cool_off = _cool_off()
    rows = attempts.filter(attempt_time__gte=since).order_by("-attempt_time")
    for attempt_time, failures in rows.values_list("attempt_time", "failures_since_start"):
        total += failures
        if total >= limit:
            return attempt_time + cool_off
    return None


def login_pause(request: HttpRequest, credentials: dict | None = None) -> LoginPause | None:
    """The pause this login attempt is under, the username's first, or None."""
    cool_off = _cool_off()
    now = getattr(request, "axes_attempt_time", None) or timezone.now()
    since = now - cool_off
    username = get_client_username(request, credentials) or ""
    if username:
        until = _pause_end(AccessAttempt.objects.filter(username=username), settings.AXES_FAILURE_LIMIT, since)
        if until is not None:
            return LoginPause("username", username, settings.AXES_FAILURE_LIMIT, until)
    address = getattr(request, "axes_ip_address", None)
    if address:
        limit = settings.AXES_ADDRESS_FAILURE_LIMIT
        until = _pause_end(AccessAttempt.objects.filter(ip_address=address), limit, since)
        if until is not None:
            return LoginPause("address", username, limit, until)
    return None


class LoginThrottleHandler(AxesDatabaseHandler):
    """axes' database handler with a limit of its own for the username and for the address."""

    def get_failures(self, request: HttpRequest, credentials: dict | None = None) -> int:
        # axes locks when this reaches AXES_FAILURE_LIMIT: answer that number when either count
        # has reached its own limit, and below it otherwise.
        if login_pause(request, credentials) is not None:
            return int(settings.AXES_FAILURE_LIMIT)
        return 0


def current_pause(request: HttpRequest, credentials: dict | None = None) -> LoginPause:
    """The pause a locked-out request is under (for its page, the API's answer, Retry-After)."""
    pause = login_pause(request, credentials)
    if pause is None:  # the cool-off ended between axes' check and this answer
        username = get_client_username(request, credentials) or ""
        pause = LoginPause("username", username, settings.AXES_FAILURE_LIMIT, timezone.now())
    return pause


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None,
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: 429 with Retry-After, saying what is paused and until when."""
    pause = current_pause(request, credentials)
    response = render(request, "registration/locked_out.html", {"pause": pause}, status=429)
    response["Retry-After"] = str(pause.retry_after(timezone.now()))
    return response
