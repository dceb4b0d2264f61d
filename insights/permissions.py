"""Who sees which insight (product.md section 5, "who sees what").

Managers (sales, delivery) and administrators see every dashboard and everyone's scorecard. A
sales rep or a pre-sales consultant sees their own scorecard only: the other dashboards answer
403, another person's page 404 (as if it did not exist). Everyone else gets 403.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import Http404

from crm import roles

SCORECARD_ROLES = (roles.SALES_REP, roles.PRESALES)


def sees_everyone(user: Any) -> bool:
    return roles.sees_all_accounts(user)


def has_scorecard(user: Any) -> bool:
    """Reps and pre-sales consultants: the people the performance dashboard is about."""
    return roles.has_role(user, *SCORECARD_ROLES)


def can_see_insights(user: Any) -> bool:
    return sees_everyone(user) or has_scorecard(user)


def require_dashboards(user: Any) -> None:
    """The team-wide dashboards (reassignment, risk, delivery): managers and administrators."""
    if not sees_everyone(user):
        raise PermissionDenied("Only managers and administrators see the team dashboards.")


def require_scorecards(user: Any) -> None:
    """The performance dashboard: managers see everyone; reps and pre-sales their own row."""
    if not can_see_insights(user):
        raise PermissionDenied("Only managers, sales reps and pre-sales consultants see scorecards.")


def get_person_for(user: Any, pk: Any) -> Any:
    """The person whose page is asked for: anyone for managers, oneself for reps and
    pre-sales (404 for anybody else, missing and not-yours look the same)."""
    require_scorecards(user)
    try:
        pk = int(pk)
    except (TypeError, ValueError, OverflowError):
        raise Http404("Not found.") from None
    if not sees_everyone(user):
        if pk != user.pk:
            raise Http404("Not found.")
        return user
    person = get_user_model().objects.filter(pk=pk).first()
    if person is None:
        raise Http404("Not found.")
    return person
