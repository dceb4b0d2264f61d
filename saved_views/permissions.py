"""Who may see and change a saved view: 404 for missing and not-yours, 403 for sharing without
being a manager."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404

from crm import roles
from saved_views.models import SavedView


def _get_or_404(queryset: Any, pk: Any) -> SavedView:
    try:
        return queryset.get(pk=int(pk))
    except (ValueError, TypeError, OverflowError, SavedView.DoesNotExist):
        raise Http404("Not found.") from None


def get_view_for(user: Any, pk: Any) -> SavedView:
    """A view the user may open: their own or a shared one."""
    return _get_or_404(SavedView.objects.readable_by(user), pk)


def get_own_view_for(user: Any, pk: Any) -> SavedView:
    """A view the user may change: only their own (a shared view of someone else is 404 here)."""
    if not user.is_authenticated:
        raise Http404("Not found.")
    return _get_or_404(SavedView.objects.owned_by(user), pk)


def can_share(user: Any) -> bool:
    """Sharing a view with the team is a manager's: a sales or delivery manager, or an administrator."""
    return roles.has_role(user, *roles.MANAGER_ROLES)


def require_can_share(user: Any) -> None:
    if not can_share(user):
        raise PermissionDenied("Only a sales or delivery manager may share a view with the team.")


def require_owner(user: Any, view: SavedView) -> None:
    if view.user_id != user.pk:
        raise PermissionDenied("Only the person who saved this view may change it.")
