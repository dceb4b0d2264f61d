"""Fetch what the user may see (404 otherwise), then role checks (403)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied

from crm import roles
from crm.permissions import get_visible_or_404
from touchpoints.models import Touchpoint

# The team calendar's "team" filter: which roles make up each side of the house.
TEAMS = {
    "delivery": (roles.DELIVERY_TEAM, roles.DELIVERY_MANAGER),
    "sales": (roles.SALES_REP, roles.PRESALES, roles.SALES_MANAGER),
}


def get_touchpoint_for(user: Any, pk: Any) -> Touchpoint:
    return get_visible_or_404(  # type: ignore[no-any-return]
        Touchpoint.objects.visible_to(user).select_related("account", "owner", "contact"), pk
    )


def can_work(user: Any, touchpoint: Touchpoint) -> bool:
    """The owner, managers and administrators complete, skip, cancel and reschedule."""
    return user.pk == touchpoint.owner_id or roles.has_role(user, *roles.MANAGER_ROLES)


def require_can_work(user: Any, touchpoint: Touchpoint) -> None:
    if not can_work(user, touchpoint):
        raise PermissionDenied("Only the touchpoint's owner and managers change it.")


def can_see_others_weeks(user: Any) -> bool:
    """Managers and administrators look at anyone's week and at the team calendar."""
    return roles.has_role(user, *roles.MANAGER_ROLES)


def require_can_see_others_weeks(user: Any) -> None:
    if not can_see_others_weeks(user):
        raise PermissionDenied("Only managers and administrators see other people's check-ups.")
