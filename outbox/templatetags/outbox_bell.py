"""The header's bell: the signed-in user's unread count, one capped query per page."""

from __future__ import annotations

from typing import Any

from django import template

from outbox import selectors

register = template.Library()


@register.simple_tag
def bell_unread(user: Any) -> dict[str, Any]:
    if not getattr(user, "is_authenticated", False):
        return {"count": 0, "label": ""}
    count = selectors.unread_count(user)
    return {"count": count, "label": selectors.unread_label(count)}
