"""The account team: seats added, joined and ended (effective-dated; the owner's seat changes
only through the ownership services)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.exceptions import Conflict
from core.names import name_of
from crm import events, permissions
from crm.models import Account, AccountTeamMember
from crm.services.shared import require_assignable

TEAM_ROLES_ADDABLE = [r for r in AccountTeamMember.Role.values if r != AccountTeamMember.Role.OWNER]


@transaction.atomic
def team_member_add(*, account: Account, by: Any, user: Any, role: str) -> AccountTeamMember:
    """Someone managing the team adds a person to it (a second seat with the same role is refused)."""
    account = Account.objects.select_for_update().get(pk=account.pk)
    permissions.require_can_manage_team(by, account)
    if role not in TEAM_ROLES_ADDABLE:
        raise ValidationError({"role": "Choose a team role; the owner changes only by reassignment."})
    require_assignable(user, "user")
    if AccountTeamMember.objects.current().filter(account=account, user=user, role=role).exists():
        raise ValidationError({"user": "This person already has that role on the account."})
    return team_member_join(account=account, user=user, role=role, by=by)


def team_member_join(*, account: Account, user: Any, role: str, by: Any) -> AccountTeamMember:
    """The one writer of a new team seat, with its event. Other services call it directly (a
    delivery owner named at handover, a successor taking a seat) once they have checked the
    permission themselves; someone already seated with that role keeps their seat."""
    existing = AccountTeamMember.objects.current().filter(account=account, user=user, role=role).first()
    if existing:
        return existing
    member = AccountTeamMember.objects.create(account=account, user=user, role=role)
    events.team_changed_event(
        account=account, by=by, subject=f"{name_of(user)} joined the team as {member.get_role_display()}",
        data={"user": user.pk, "role": role, "change": "joined"},
    )
    return member


@transaction.atomic
def team_member_end(*, member: AccountTeamMember, by: Any) -> AccountTeamMember:
    Account.objects.select_for_update().get(pk=member.account_id)
    member = AccountTeamMember.objects.select_related("account", "user").get(pk=member.pk)
    permissions.require_can_manage_team(by, member.account)
    if member.ended_at is not None:
        raise Conflict("This person has already left the account team.")
    if member.role == AccountTeamMember.Role.OWNER:
        raise ValidationError({"role": "The owner leaves the team only by reassignment."})
    member.ended_at = timezone.now()
    member.save(update_fields=["ended_at"])
    events.team_changed_event(
        account=member.account, by=by,
        subject=f"{name_of(member.user)} left the team ({member.get_role_display()})",
        data={"user": member.user_id, "role": member.role, "change": "left"},
    )
    return member
