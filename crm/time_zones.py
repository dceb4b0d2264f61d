"""The signed-in user's time zone, read from their profile (core.time_zones has the rest).

Staff pages run in the signed-in user's profile zone (config.middleware.UserTimeZoneMiddleware).
The zone is kept in the session, written at login and into each of the user's sessions whenever
their profile's zone changes (crm.services.profile_update): reading the profile on every request
would cost every page a query.
"""

from __future__ import annotations

import zoneinfo
from importlib import import_module
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from core.time_zones import SESSION_KEY, remember_zone, zone_named
from crm import selectors
from crm.models import LoginSession


def sessions_follow_zone(*, user: Any, name: str) -> None:
    """Writes a new profile zone into every session the user is signed in with (an administrator
    may change it from elsewhere): their next page is in it, without a read on every page."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    for key in LoginSession.objects.filter(user=user).values_list("session_key", flat=True):
        session = store(session_key=key)
        if session.exists(key):
            session[SESSION_KEY] = zone_named(name).key
            session.save()


def request_zone(request: HttpRequest) -> zoneinfo.ZoneInfo | None:
    """The signed-in user's zone: from the session, else read once from the profile and kept.
    None for a visitor who is not signed in (customer pages choose their own)."""
    name = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    if name:
        return zone_named(name)
    user: Any = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    # A session from before the zone was kept in it (or one a test logged in by hand).
    zone = selectors.user_zone(user)
    remember_zone(request, zone.key)
    return zone
