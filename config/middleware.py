from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from crm import time_zones

# Everything the pages load comes from our own origin (no CDN); htmx needs no inline script.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)


class SecurityHeadersMiddleware:
    """Adds the headers Django's SecurityMiddleware does not: CSP and Permissions-Policy."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith("/api/docs/"):
            # The interactive docs (Swagger UI, served from drf-spectacular's sidecar-free
            # template) need inline script; they are for signed-in users only (config/urls.py).
            response.headers.setdefault(
                "Content-Security-Policy",
                CONTENT_SECURITY_POLICY.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")
                .replace("style-src 'self'", "style-src 'self' 'unsafe-inline'"),
            )
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        return response


class UserTimeZoneMiddleware:
    """Runs every staff page, htmx partial and export in the signed-in user's time zone: times
    are shown in it, and a typed time (a datetime-local input carries no zone) is read back in
    it, so an edit form saved unchanged saves the same time. Customer pages pick the zone their
    emails use (core.time_zones.show_in_zone_of). The API stays in UTC: its clients are programs,
    and DRF renders and parses datetimes in the current zone."""

    API_PREFIX = "/api/"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = None if request.path.startswith(self.API_PREFIX) else time_zones.request_zone(request)
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            # The thread serves other requests next: none may inherit this one's zone.
            timezone.deactivate()
