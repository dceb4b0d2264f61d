"""Errors the services raise, mapped to HTTP answers in one place (core.api.errors for the API, core.http for pages)."""


class Conflict(Exception):
    """The request is valid but the object's state does not allow it now (HTTP 409)."""
