"""Merging two accounts, or two contacts of one account, into a survivor: crm's part of the
flows `account_merge` and `contact_merge` (flows/actions.py), which call each app's own move
service by name between `..._merge_begin` (permission, checks, locks) and `..._merge_finish`
(crm's rows, the tombstone, the events, the caches).

The merged record keeps its row as a tombstone (`merged_into` set, archived) whose page and API
detail lead to the survivor. Both timelines record the merge.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from core.exceptions import Conflict
from crm import account_page_cache, events, permissions, roles
from crm.models import Account, AccountTeamMember, Activity, Contact, Deal, OwnershipChange
from crm.services.team import team_member_join
from crm.signals import accounts_merged


def rows_pointing_at(obj: Account | Contact) -> dict[str, int]:
    """How many rows of each kind, in every app, point at the account or contact: what a merge
    moves (the confirmation page's counts), and, after it, what must be left on a tombstone.
    Read through the model's relations (Django's documented `_meta` API), so a kind added by
    any app is counted without crm importing it."""
    counts: Counter[str] = Counter()
    # include_hidden: relations named "+" (a sign-off's contact, a stage's account) count too.
    for relation in type(obj)._meta.get_fields(include_hidden=True):
        if not relation.auto_created or relation.concrete or not isinstance(relation.remote_field, models.ForeignKey):
            continue  # not a foreign key pointing here
        model = relation.related_model
        if model is type(obj):
            continue  # merged_into: the tombstones pointing at this one
        n = model._default_manager.filter(**{relation.field.name: obj}).count()
        if n:
            counts[str(model._meta.verbose_name_plural)] += n
    return dict(sorted(counts.items()))


def _lock_pair(model: Any, first: Any, second: Any) -> tuple[Any, Any]:
    """Both rows locked in primary-key order, whichever is merged into which, so two merges of
    the same pair in opposite directions wait for each other instead of deadlocking."""
    locked = model.objects.select_for_update().filter(pk__in=[first.pk, second.pk]).order_by("pk")
    rows = {row.pk: row for row in locked}
    return rows[first.pk], rows[second.pk]


def account_merge_check(*, account: Account, into: Account | None, by: Any) -> None:
    """Why this merge cannot be done, as the error to show (nothing otherwise): managers only,
    both visible, not into itself, neither a tombstone, the survivor not archived. The
    confirmation page asks it first; `account_merge_begin` asks it again on the locked rows."""
    permissions.require_can_merge(by)
    visible = Account.objects.visible_to(by)
    if into is None or not visible.filter(pk=into.pk).exists():
        raise ValidationError({"into": "Choose an account you can see."})
    if not visible.filter(pk=account.pk).exists():
        raise ValidationError({"account": "Choose an account you can see."})
    if account.pk == into.pk:
        raise ValidationError({"into": "An account cannot be merged into itself: choose another one."})
    if account.merged_into_id is not None:
        raise Conflict(f"{account.name} was already merged into another account (#{account.merged_into_id}).")
    if into.merged_into_id is not None:
        raise ValidationError({"into": f"{into.name} was merged into another account "
                                       f"(#{into.merged_into_id}): merge into that one."})
    if into.archived_at is not None:
        raise ValidationError({"into": f"{into.name} is archived: restore it before merging into it."})


def account_merge_begin(*, account: Account, into: Account, by: Any) -> tuple[Account, Account]:
    """The checks on both accounts locked, in the flow's transaction. Returns (merged, survivor)."""
    permissions.require_can_merge(by)
    merged, survivor = _lock_pair(Account, account, into)
    account_merge_check(account=merged, into=survivor, by=by)
    return merged, survivor


def account_merge_finish(*, merged: Account, survivor: Account, by: Any, moved: dict[str, int]) -> Account:
    """crm's rows go to the survivor, the merged account becomes its tombstone, both timelines
    record the merge. `moved`: the counts read before the flow moved anything (for the event)."""
    now = timezone.now()
    survivor_has_primary = Contact.objects.filter(account=survivor, is_primary=True).exists()
    contacts = Contact.objects.filter(account=merged)
    if survivor_has_primary:
        contacts.filter(is_primary=True).update(is_primary=False)
    contacts.update(account=survivor)
    Deal.objects.filter(account=merged).update(account=survivor)
    Activity.objects.filter(account=merged).update(account=survivor)
    OwnershipChange.objects.filter(account=merged).update(account=survivor)
    _team_joins_survivor(merged=merged, survivor=survivor, by=by, now=now)
    merged.merged_into = survivor
    merged.archived_at = merged.archived_at or now
    merged.save(update_fields=["merged_into", "archived_at", "updated_at"])
    events.account_merged_event(account=survivor, merged=merged, survivor=survivor, by=by, moved=moved)
    events.account_merged_event(account=merged, merged=merged, survivor=survivor, by=by, moved=moved)
    # Moved with update(), which sends no signal: both pages' cached rows are obsolete.
    account_page_cache.bump_account(merged.pk)
    account_page_cache.bump_account(survivor.pk)
    accounts_merged.send(sender=Account, merged=merged, survivor=survivor, by=by)
    return survivor


def _team_joins_survivor(*, merged: Account, survivor: Account, by: Any, now: Any) -> None:
    """The merged account's seats end now and its whole team history goes to the survivor; the
    people not already on the survivor's team join it (the merged owner as a sales rep, or as a
    delivery owner if they do not sell)."""
    current = list(AccountTeamMember.objects.current().filter(account=merged).select_related("user"))
    AccountTeamMember.objects.filter(pk__in=[m.pk for m in current]).update(ended_at=now)
    AccountTeamMember.objects.filter(account=merged).update(account=survivor)
    seated = set(AccountTeamMember.objects.current().filter(account=survivor).values_list("user_id", flat=True))
    for member in current:
        if member.user_id in seated or not member.user.is_active:
            continue
        role = member.role
        if role == AccountTeamMember.Role.OWNER:
            selling = roles.can_sell(member.user)
            role = AccountTeamMember.Role.SALES_REP if selling else AccountTeamMember.Role.DELIVERY_OWNER
        team_member_join(account=survivor, user=member.user, role=role, by=by)
        seated.add(member.user_id)


def contact_merge_check(*, contact: Contact, into: Contact | None, by: Any) -> None:
    """Managers only; two contacts of the same account (contacts of two accounts come together
    by merging the accounts first); neither a tombstone."""
    permissions.require_can_merge(by)
    if into is None or not Contact.objects.visible_to(by).filter(pk=into.pk).exists():
        raise ValidationError({"into": "Choose a contact you can see."})
    if contact.pk == into.pk:
        raise ValidationError({"into": "A contact cannot be merged into itself: choose another one."})
    if contact.account_id != into.account_id:
        raise ValidationError({"into": "Choose a contact of the same account (merge the accounts first)."})
    if contact.merged_into_id is not None:
        raise Conflict(f"{contact.full_name} was already merged into another contact (#{contact.merged_into_id}).")
    if into.merged_into_id is not None:
        raise ValidationError({"into": f"{into.full_name} was merged into another contact: merge into that one."})


def contact_merge_begin(*, contact: Contact, into: Contact, by: Any) -> tuple[Contact, Contact]:
    """The checks on both contacts locked (their account first, as every contact writer does)."""
    permissions.require_can_merge(by)
    Account.objects.select_for_update().get(pk=contact.account_id)
    merged, survivor = _lock_pair(Contact, contact, into)
    contact_merge_check(contact=merged, into=survivor, by=by)
    return merged, survivor


CONTACT_FILLED_FROM_MERGED = ("last_name", "title", "email", "phone", "best_time")


def contact_merge_finish(*, merged: Contact, survivor: Contact, by: Any, moved: dict[str, int]) -> Contact:
    """The survivor keeps its details and takes the merged contact's where it has none, and
    the primary flag; the merged contact becomes its tombstone; the timeline records it."""
    for name in CONTACT_FILLED_FROM_MERGED:
        if not getattr(survivor, name) and getattr(merged, name):
            setattr(survivor, name, getattr(merged, name))
    if merged.is_primary and survivor.is_active:
        survivor.is_primary = True
    merged.is_primary = False
    merged.merged_into = survivor
    merged.archived_at = merged.archived_at or timezone.now()
    merged.save(update_fields=["is_primary", "merged_into", "archived_at"])
    survivor.save()
    account = Account.objects.get(pk=survivor.account_id)
    events.contact_merged_event(account=account, merged=merged, survivor=survivor, by=by, moved=moved)
    return survivor
