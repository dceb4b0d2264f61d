from typing import Any

from django.http import HttpRequest

from crm import roles


def navigation(request: HttpRequest) -> dict[str, Any]:
    """What the base layout needs to show the navigation for the user's roles."""
    user = request.user
    if not user.is_authenticated:
        return {}
    return {
        "nav_roles": sorted(roles.role_names(user)),
        "nav_can_sell": roles.can_sell(user),
        "nav_can_reassign": roles.can_reassign(user),
        "nav_sees_all": roles.sees_all_accounts(user),
        "nav_is_admin": roles.is_administrator(user),
    }
