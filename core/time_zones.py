"""Time zones by name, and the zone a request or an email runs in, for every app.

A page and the email about the same event print the same time: staff pages run in the signed-in
user's profile zone, kept in the session (written at login and whenever the profile's zone
changes); customer pages in the zone of the staff member whose emails the customer gets
(`show_in_zone_of`), as core.mail renders those emails in `zone_of` the recipient."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils import timezone

SESSION_KEY = "time_zone"


def zone_named(name: str | None) -> zoneinfo.ZoneInfo:
    """The zone called `name`; UTC for none, or for a name this machine does not know (a profile
    saved before its zone left the tz database must not break every page and email)."""
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError("Unknown time zone; use a name such as Europe/Paris.") from None


def zone_of(user: Any) -> zoneinfo.ZoneInfo:
    """The time zone of a user's profile (UTC without one, or with a zone this machine lacks)."""
    profile = getattr(user, "profile", None) if user is not None else None
    return zone_named(getattr(profile, "time_zone", ""))


def remember_zone(request: HttpRequest, name: str) -> None:
    """Keeps the signed-in user's zone in their session (at login, and when their profile changes)."""
    session = getattr(request, "session", None)
    if session is not None:
        session[SESSION_KEY] = zone_named(name).key


def show_in_zone_of(user: Any) -> str:
    """Runs the rest of a customer page in the zone its emails use (`user`'s: the owner who
    writes to the customer) and returns the zone's name for the page to say."""
    zone = zone_of(user)
    timezone.activate(zone)
    return zone.key
