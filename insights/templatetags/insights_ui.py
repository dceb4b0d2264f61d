"""The navigation link into the dashboards, and small helpers for their templates."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from insights import permissions, tables

register = template.Library()


@register.simple_tag
def insights_nav(user: Any) -> str:
    """Where the "Insights" link goes: the dashboards for managers, one's own scorecard for reps
    and pre-sales consultants; empty (no link) for everyone else. Roles are cached on the user."""
    if not getattr(user, "is_authenticated", False):
        return ""
    if permissions.sees_everyone(user):
        return reverse("insights:performance")
    if permissions.has_scorecard(user):
        return reverse("insights:person", args=[user.pk])
    return ""


@register.filter
def figure(value: Any, suffix: str = "") -> str:
    """A figure as the tables show it: thousands separators, at most two decimals, — for none."""
    return tables.num(value, suffix).text
