"""Small presentation helpers for crm templates."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma

register = template.Library()


@register.filter
def person(user: Any) -> str:
    """A vendor person's display name: full name, else username; "nobody" for none."""
    if not user:
        return "nobody"
    return str(user.get_full_name() or user.get_username())


@register.filter
def initials(user: Any) -> str:
    name = person(user)
    parts = [p for p in name.replace(".", " ").split() if p]
    return "".join(p[0] for p in parts[:2]).upper() or "?"


@register.filter
def money(value: Any, currency: str = "") -> str:
    """12345.5 -> "12,345" (whole units read better in lists); keeps cents when there are any."""
    if value in (None, ""):
        return ""
    amount = Decimal(value)
    text = intcomma(f"{amount:.0f}") if amount == amount.to_integral_value() else intcomma(f"{amount:.2f}")
    return f"{text} {currency}".strip()


@register.filter
def field_type(bound_field: Any) -> str:
    """The widget's class name in lower case, so templates can lay out checkboxes differently."""
    return bound_field.field.widget.__class__.__name__.lower()


@register.filter
def minutes(delta: Any) -> int:
    """A timedelta in whole minutes (at least 1), for "wait about N minutes"."""
    try:
        return max(1, round(delta.total_seconds() / 60))
    except AttributeError:
        return 1
