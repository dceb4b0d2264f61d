"""Accounts: creating one (with its owner's seat and first ledger row), editing its details, and
the one writer of its lifecycle."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.validation import validate_model
from crm import events, permissions, roles
from crm.models import Account, AccountTeamMember, OwnershipChange
from crm.services.shared import apply_changes, require_assignable, require_not_merged

# What the account form and API edit. The lifecycle is not among them: it changes only through
# account_lifecycle_change, which records the change (a new account may start at any stage).
ACCOUNT_FIELDS = ("name", "website", "industry", "city", "country", "notes")
ACCOUNT_CREATE_FIELDS = (*ACCOUNT_FIELDS, "lifecycle")


@transaction.atomic
def account_create(*, by: Any, name: str, owner: Any = None, **fields: Any) -> Account:
    permissions.require_can_create_account(by)
    owner = owner or by
    require_assignable(owner, "owner")
    unknown = set(fields) - set(ACCOUNT_CREATE_FIELDS)
    if unknown:
        raise ValidationError({n: "Unknown field." for n in sorted(unknown)})
    account = Account(name=name, owner=owner, **fields)
    validate_model(account)
    account.refresh_duplicate_keys()
    account.save()
    now = timezone.now()
    AccountTeamMember.objects.create(account=account, user=owner, role=AccountTeamMember.Role.OWNER, started_at=now)
    if owner != by and roles.can_sell(by) and not roles.sees_all_accounts(by):
        # A rep creating an account for someone else stays on it as a sales rep.
        AccountTeamMember.objects.create(account=account, user=by, role=AccountTeamMember.Role.SALES_REP)
    change = OwnershipChange.objects.create(
        account=account, from_user=None, to_user=owner, changed_at=now,
        reason=OwnershipChange.Reason.NEW, assigned_by=by,
    )
    events.account_created_event(account=account, by=by)
    events.owner_changed_event(change=change, by=by)
    return account


@transaction.atomic
def account_update(*, account: Account, by: Any, lifecycle: str | None = None, **data: Any) -> Account:
    """Edits the account's details; a `lifecycle` given here goes through account_lifecycle_change."""
    account = Account.objects.select_for_update().get(pk=account.pk)
    permissions.require_can_edit_account(by, account)
    require_not_merged(account)
    changed = apply_changes(account, data, ACCOUNT_FIELDS)
    if changed:
        validate_model(account)
        account.refresh_duplicate_keys()
        account.save()
        events.account_updated_event(account=account, by=by, changed=changed)
    if lifecycle is not None:
        account_lifecycle_change(account=account, to=lifecycle, by=by)
    return account


def account_lifecycle_change(
    *, account: Account, to: str, by: Any, only_from: tuple[str, ...] | None = None,
) -> bool:
    """The one writer of an account's lifecycle (prospect, customer, onboarding, active, ...),
    with its event row. `only_from`: move only an account at one of these stages (winning a
    deal makes a prospect a customer, never an active customer one again). Runs in the
    caller's transaction, whose service has checked the permission. Returns whether it moved."""
    account = Account.objects.select_for_update().get(pk=account.pk)
    try:
        Account._meta.get_field("lifecycle").clean(to, account)
    except ValidationError as exc:
        raise ValidationError({"lifecycle": exc.messages}) from None
    from_stage = account.lifecycle
    if from_stage == to or (only_from is not None and from_stage not in only_from):
        return False
    account.lifecycle = to
    account.save(update_fields=["lifecycle", "updated_at"])
    events.lifecycle_changed_event(account=account, by=by, from_stage=from_stage)
    return True
