"""The product's roles (Django groups, created by a data migration) and role checks.

Roles are groups so administrators manage them in the admin; code asks these helpers,
never a group name directly.
"""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group

SALES_REP = "Sales rep"
PRESALES = "Pre-sales consultant"
SALES_MANAGER = "Sales manager"
DELIVERY_TEAM = "Delivery team member"
DELIVERY_MANAGER = "Delivery manager"
ADMINISTRATOR = "Administrator"

ALL_ROLES = [SALES_REP, PRESALES, SALES_MANAGER, DELIVERY_TEAM, DELIVERY_MANAGER, ADMINISTRATOR]
MANAGER_ROLES = {SALES_MANAGER, DELIVERY_MANAGER, ADMINISTRATOR}
SELLING_ROLES = {SALES_REP, PRESALES, SALES_MANAGER, ADMINISTRATOR}

AnyUser = AbstractBaseUser | AnonymousUser

def role_names(user: AnyUser) -> set[str]:
    """The user's role names, cached on the user object for the request."""
    if not user.is_authenticated or not user.is_active:
        return set()
    cached = getattr(user, "_keepwarm_roles", None)
    if cached is None:
        cached = set(Group.objects.filter(user__id=user.pk).values_list("name", flat=True))
        if user.is_superuser:  # type: ignore[attr-defined]
            cached.add(ADMINISTRATOR)
        user._keepwarm_roles = cached  # type: ignore[union-attr,attr-defined]
    return cached


def has_role(user: AnyUser, *roles: str) -> bool:
    return bool(role_names(user) & set(roles))


def sees_all_accounts(user: AnyUser) -> bool:
    """Managers and administrators see every account (product.md "Users")."""
    return has_role(user, *MANAGER_ROLES)


def can_sell(user: AnyUser) -> bool:
    """May create accounts and deals: the selling roles."""
    return has_role(user, *SELLING_ROLES)


def can_reassign(user: AnyUser) -> bool:
    """Reassigning accounts is a sales manager's (or an administrator's) decision."""
    return has_role(user, SALES_MANAGER, ADMINISTRATOR)


def is_administrator(user: AnyUser) -> bool:
    return has_role(user, ADMINISTRATOR)
