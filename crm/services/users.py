"""Vendor users: ending a person's access, deactivating them (their book to a successor first),
and their profile."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import ngettext
from rest_framework.authtoken.models import Token

from core.exceptions import Conflict
from core.names import name_of
from core.validation import validate_model
from crm import permissions, roles, time_zones
from crm.models import Account, AccountTeamMember, LoginSession, OwnershipChange, UserProfile
from crm.services.ownership import ReassignmentPlan, book_reassign
from crm.services.shared import apply_changes

User = get_user_model()


def user_end_access(*, user: Any) -> None:
    """Ends every session and API token of a user (deactivation, reliability 9)."""
    keys = list(LoginSession.objects.filter(user=user).values_list("session_key", flat=True))
    Session.objects.filter(session_key__in=keys).delete()
    LoginSession.objects.filter(user=user).delete()
    Token.objects.filter(user=user).delete()


@transaction.atomic
def user_deactivate(
    *, user: Any, by: Any, successor: Any = None, note: str = "",
) -> ReassignmentPlan | None:
    """Deactivates a vendor user. Whoever still owns accounts needs a successor first."""
    permissions.require_can_manage_users(by)
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.pk == by.pk:
        raise ValidationError({"user": "You cannot deactivate yourself."})
    if not user.is_active:
        raise Conflict("This user is already inactive.")
    plan = None
    owned = Account.objects.owned_by(user).count()
    if owned:
        if successor is None:
            raise ValidationError(
                {"successor": ngettext(
                    "%(name)s still owns %(count)d account: name a successor.",
                    "%(name)s still owns %(count)d accounts: name a successor.",
                    owned,
                ) % {"name": name_of(user), "count": owned}}
            )
        if not roles.can_reassign(by):
            raise PermissionDenied("Only sales managers and administrators reassign a book.")
        plan = book_reassign(
            from_user=user, to_user=successor, by=by, reason=OwnershipChange.Reason.DEPARTURE, note=note,
        )
    now = timezone.now()
    AccountTeamMember.objects.current().filter(user=user).update(ended_at=now)
    user.is_active = False
    # Saving the user inactive ends their sessions and tokens (crm.receivers.user_saved, which
    # also covers the admin and the shell).
    user.save(update_fields=["is_active"])
    return plan


@transaction.atomic
def profile_update(*, user: Any, by: Any, **data: Any) -> UserProfile:
    if by.pk != user.pk and not roles.is_administrator(by):
        raise PermissionDenied("Only administrators change another person's profile.")
    if "manager" in data and not roles.is_administrator(by):
        # Escalations of missed check-ups go to the manager: nobody picks their own.
        raise PermissionDenied("Only administrators set who a person reports to.")
    profile, _ = UserProfile.objects.select_for_update().get_or_create(user=user)
    before = profile.time_zone
    allowed = ("phone", "time_zone", "work_starts", "work_ends", "manager")
    apply_changes(profile, data, allowed)
    if profile.manager_id == user.pk:
        raise ValidationError({"manager": "Nobody reports to themselves."})
    if profile.manager is not None and not profile.manager.is_active:
        raise ValidationError({"manager": "An inactive user cannot be anyone's manager."})
    validate_model(profile, exclude=["user"])
    if profile.work_starts >= profile.work_ends:
        raise ValidationError({"work_ends": "Working hours must end after they start."})
    zone_changed = profile.time_zone != before
    profile.save()
    if zone_changed:
        time_zones.sessions_follow_zone(user=user, name=profile.time_zone)
    return profile
