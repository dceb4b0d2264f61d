"""Fetch what the user may see (404 otherwise), then role checks (403)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied

from crm import roles
from crm.permissions import SELLING_TEAM_ROLES, get_visible_or_404, is_on_team
from handover.models import Handover, Promise


def get_promise_for(user: Any, pk: Any) -> Promise:
    return get_visible_or_404(Promise.objects.visible_to(user).select_related("deal", "account", "made_by"), pk)  # type: ignore[no-any-return]


def get_handover_for(user: Any, pk: Any) -> Handover:
    return get_visible_or_404(  # type: ignore[no-any-return]
        Handover.objects.visible_to(user).select_related("deal", "account", "rep", "delivery_owner"), pk
    )


def require_can_record_promise(user: Any, account: Any) -> None:
    """Reps and pre-sales consultants on the account team record promises (they are the makers)."""
    if roles.has_role(user, roles.SALES_REP, roles.PRESALES) and is_on_team(user, account, *SELLING_TEAM_ROLES):
        return
    raise PermissionDenied("Only the reps and pre-sales consultants on the account team record promises.")


def require_can_prepare_handover(user: Any, handover: Handover) -> None:
    """The rep preparing it, the account's selling team, and sales managers."""
    if user.pk == handover.rep_id or roles.has_role(user, roles.SALES_MANAGER, roles.ADMINISTRATOR):
        return
    if roles.has_role(user, roles.SALES_REP, roles.PRESALES) and is_on_team(
        user, handover.account, *SELLING_TEAM_ROLES
    ):
        return
    raise PermissionDenied("Only the rep and the account's sales team prepare this handover.")


def require_sales_manager(user: Any) -> None:
    if not roles.has_role(user, roles.SALES_MANAGER):
        raise PermissionDenied("Only sales managers do this.")


def require_delivery_manager(user: Any) -> None:
    if not roles.has_role(user, roles.DELIVERY_MANAGER):
        raise PermissionDenied("Only delivery managers do this.")


def review_kind_for(user: Any, requested: str | None = None) -> str:
    """The reviewer's role decides the review: sales managers review promises, delivery managers
    review feasibility. Someone with both roles says which."""
    kinds = []
    if roles.has_role(user, roles.SALES_MANAGER):
        kinds.append("sales")
    if roles.has_role(user, roles.DELIVERY_MANAGER):
        kinds.append("feasibility")
    if not kinds:
        raise PermissionDenied("Only sales and delivery managers review promises.")
    if requested:
        if requested not in kinds:
            raise PermissionDenied(f"Your role does not make {requested} reviews.")
        return requested
    return kinds[0]
