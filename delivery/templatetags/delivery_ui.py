"""Presentation helpers for the delivery pages and the navigation links into them."""

from __future__ import annotations

from typing import Any

from django import template

from crm import roles

register = template.Library()

STAGE_TONE = {
    "planned": "muted",
    "in_progress": "info",
    "awaiting_signoff": "warn",
    "changes_requested": "danger",
    "signed_off": "ok",
    "done": "ok",
}
PROBLEM_TONE = {"open": "warn", "resolved": "ok", "closed": "muted"}
SEVERITY_TONE = {"critical": "danger", "high": "danger", "medium": "warn", "low": "muted"}
LINK_TONE = {"live": "ok", "used": "muted", "revoked": "muted", "expired": "warn"}


@register.simple_tag
def delivery_nav(user: Any) -> dict[str, bool]:
    """Which delivery links the main navigation shows (roles are cached on the user)."""
    if not getattr(user, "is_authenticated", False):
        return {}
    return {
        "deliveries": roles.has_role(user, roles.DELIVERY_TEAM, roles.DELIVERY_MANAGER, roles.ADMINISTRATOR),
        "problems": bool(roles.role_names(user)),
    }


@register.filter
def stage_tone(state: str) -> str:
    return STAGE_TONE.get(state, "muted")


@register.filter
def problem_tone(state: str) -> str:
    return PROBLEM_TONE.get(state, "muted")


@register.filter
def severity_tone(severity: str) -> str:
    return SEVERITY_TONE.get(severity, "muted")


@register.filter
def link_tone(status: str) -> str:
    return LINK_TONE.get(status, "muted")


@register.filter
def duration(delta: Any) -> str:
    """A timedelta as "3 days 4 h" / "5 h 10 min" / "12 min"."""
    if delta is None:
        return ""
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} day{'' if days == 1 else 's'}" + (f" {hours} h" if hours else "")
    if hours:
        return f"{hours} h" + (f" {mins} min" if mins else "")
    return f"{mins} min"
