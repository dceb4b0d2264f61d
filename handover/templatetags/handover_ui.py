"""Presentation helpers for the handover pages and the navigation links into them."""

from __future__ import annotations

from typing import Any

from django import template

from crm import roles
from handover import selectors

register = template.Library()

VERDICT_TONE = {
    "ok": "ok",
    "feasible": "ok",
    "at_risk": "warn",
    "not_acceptable": "danger",
    "not_feasible": "danger",
}
STATE_TONE = {
    "draft": "muted",
    "submitted": "info",
    "sales_approved": "warn",
    "accepted": "ok",
    "returned": "danger",
    "rejected": "danger",
    "active": "info",
    "reset": "warn",
    "withdrawn": "muted",
    "kept": "ok",
    "broken": "danger",
}


@register.simple_tag
def handover_nav(user: Any) -> dict[str, Any]:
    """Which handover links the main navigation shows (roles are cached on the user), and for
    the managers how many handovers wait for them (one query, on their pages only)."""
    if not getattr(user, "is_authenticated", False):
        return {}
    nav: dict[str, Any] = {
        "mine": roles.has_role(user, roles.SALES_REP, roles.PRESALES),
        "review": roles.has_role(user, roles.SALES_MANAGER),
        "inbox": roles.has_role(user, roles.DELIVERY_MANAGER),
    }
    if nav["review"] or nav["inbox"]:
        counts = selectors.work_counts()
        nav["to_review"] = counts["review"]
        nav["to_accept"] = counts["inbox"]
    return nav


@register.filter
def verdict_tone(verdict: str) -> str:
    return VERDICT_TONE.get(verdict, "muted")


@register.filter
def state_tone(state: str) -> str:
    return STATE_TONE.get(state, "muted")


@register.filter
def is_latest(review: Any, promise: Any) -> bool:
    """The review that counts: the latest of its kind (uses the prefetched reviews)."""
    latest = promise.latest_review(review.kind)
    return latest is not None and latest.pk == review.pk
