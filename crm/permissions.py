"""One helper per object kind: fetch what the user may see, or answer 404 (missing and
not-yours look the same), then role checks that answer 403 for what they see but may not do.

Views, API views and services all go through these (healthchecks' `_get_check_for_user`).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404

from crm import roles
from crm.models import Account, AccountTeamMember, Activity, Contact, Deal


def get_visible_or_404(queryset: Any, pk: Any) -> Any:
    try:
        return queryset.get(pk=int(pk))
    except (ValueError, TypeError, OverflowError, queryset.model.DoesNotExist):
        raise Http404("Not found.") from None


def get_account_for(user: Any, pk: Any) -> Account:
    return get_visible_or_404(Account.objects.visible_to(user).select_related("owner"), pk)


def survivor_of_tombstone(user: Any, pk: Any) -> Account | None:
    """The account a merged one now lives in (following merges of merges), when the user may
    see it: the tombstone's team moved with it, so a tombstone is reached through its survivor."""
    try:
        account = Account.objects.filter(pk=int(pk)).only("merged_into").first()
    except (ValueError, TypeError, OverflowError):
        return None
    for _ in range(10):  # a chain of merges is short; a cycle cannot be made (a survivor is live)
        if account is None or account.merged_into_id is None:
            break
        account = Account.objects.filter(pk=account.merged_into_id).only("merged_into").first()
    if account is None or account.merged_into_id is not None or account.pk == int(pk):
        return None
    return Account.objects.visible_to(user).filter(pk=account.pk).first()


def get_contact_for(user: Any, pk: Any) -> Contact:
    return get_visible_or_404(Contact.objects.visible_to(user).select_related("account"), pk)


def get_deal_for(user: Any, pk: Any) -> Deal:
    return get_visible_or_404(Deal.objects.visible_to(user).select_related("account", "owner", "sold_by"), pk)


def get_activity_for(user: Any, pk: Any) -> Activity:
    return get_visible_or_404(Activity.objects.visible_to(user).select_related("account"), pk)


def is_on_team(user: Any, account: Account, *team_roles: str) -> bool:
    qs = AccountTeamMember.objects.current().filter(account=account, user=user)
    if team_roles:
        qs = qs.filter(role__in=team_roles)
    return qs.exists()


SELLING_TEAM_ROLES = (
    AccountTeamMember.Role.OWNER,
    AccountTeamMember.Role.SALES_REP,
    AccountTeamMember.Role.PRESALES,
    AccountTeamMember.Role.SALES_MANAGER,
)


def require_can_create_account(user: Any) -> None:
    if not roles.can_sell(user):
        raise PermissionDenied("Only sales roles create accounts.")


def require_can_edit_account(user: Any, account: Account) -> None:
    """Account details and contacts: anyone on the team, and the managers."""
    if roles.sees_all_accounts(user) or is_on_team(user, account):
        return
    raise PermissionDenied("Only the account team and managers edit this account.")


def require_can_manage_team(user: Any, account: Account) -> None:
    if roles.has_role(user, roles.SALES_MANAGER, roles.ADMINISTRATOR):
        return
    if account.owner_id == user.pk:
        return
    raise PermissionDenied("Only the account owner and sales managers change the account team.")


def can_sell_on(user: Any, account: Account) -> bool:
    """Deals: the selling members of the account team, sales managers and administrators."""
    if roles.has_role(user, roles.SALES_MANAGER, roles.ADMINISTRATOR):
        return True
    return roles.has_role(user, roles.SALES_REP, roles.PRESALES) and is_on_team(user, account, *SELLING_TEAM_ROLES)


def accounts_sold_on(user: Any, account_ids: set[int]) -> set[int]:
    """Which of these accounts' deals the user may work (can_sell_on for many at once, in at
    most one query): the pipeline board lets them drag those cards and no others."""
    if not account_ids or roles.has_role(user, roles.SALES_MANAGER, roles.ADMINISTRATOR):
        return set(account_ids)
    if not roles.has_role(user, roles.SALES_REP, roles.PRESALES):
        return set()
    seats = AccountTeamMember.objects.current().filter(
        user=user, role__in=SELLING_TEAM_ROLES, account_id__in=account_ids,
    )
    return set(seats.values_list("account_id", flat=True))


def require_can_sell_on(user: Any, account: Account) -> None:
    if not can_sell_on(user, account):
        raise PermissionDenied("Only the account's sales team and sales managers work its deals.")


def require_can_log_activity(user: Any, account: Account) -> None:
    """Whoever sees the account may log on its timeline (get_account_for already checked that)."""
    if not user.is_active:
        raise PermissionDenied


def require_can_reassign(user: Any) -> None:
    if not roles.can_reassign(user):
        raise PermissionDenied("Only sales managers and administrators reassign accounts.")


def require_can_manage_users(user: Any) -> None:
    if not roles.has_role(user, roles.ADMINISTRATOR, roles.SALES_MANAGER):
        raise PermissionDenied("Only administrators and sales managers deactivate users.")


def require_can_merge(user: Any) -> None:
    """Merging accounts or contacts moves whole histories: the managers who reassign accounts."""
    if not roles.can_reassign(user):
        raise PermissionDenied("Only sales managers and administrators merge accounts and contacts.")


def require_can_archive(user: Any, account: Account) -> None:
    """Archiving and restoring an account or a contact: whoever may edit the account."""
    require_can_edit_account(user, account)
