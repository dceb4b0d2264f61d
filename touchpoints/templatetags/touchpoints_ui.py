"""Presentation helpers for the check-up pages and the navigation links into them."""

from __future__ import annotations

from typing import Any

from django import template

from crm import roles

register = template.Library()

STATE_TONE = {"scheduled": "info", "done": "ok", "missed": "danger", "skipped": "muted", "cancelled": "muted"}
CHANNEL_ICON = {"email": "✉", "phone": "☎", "video": "▶", "visit": "⌂"}


@register.simple_tag
def touchpoints_nav(user: Any) -> dict[str, bool]:
    """Which check-up links the main navigation shows (roles are cached on the user)."""
    if not getattr(user, "is_authenticated", False):
        return {}
    return {
        "week": bool(roles.role_names(user)),
        "team": roles.has_role(user, *roles.MANAGER_ROLES),
    }


@register.filter
def touchpoint_tone(state: str) -> str:
    return STATE_TONE.get(state, "muted")


@register.filter
def channel_icon(channel: str) -> str:
    return CHANNEL_ICON.get(channel, "•")


@register.filter
def score_tone(satisfaction: int | None) -> str:
    """A 1-5 score's colour: 1-2 alarming, 3 lukewarm, 4-5 happy."""
    if satisfaction is None:
        return "muted"
    if satisfaction <= 2:
        return "danger"
    return "warn" if satisfaction == 3 else "ok"
