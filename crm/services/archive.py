"""Archiving and restoring accounts and contacts: hidden from lists and search by default
(`.live()`), kept in history (their page still opens, with an "Archived" banner), restorable.

Archiving changes nothing else: open deals, scheduled check-ups and live customer links carry
on (archiving tidies the lists; stopping the work is the contact's "left" or "do not contact",
or the deal's loss, each with its own rules). A merged tombstone is archived and cannot be
restored: its survivor holds its history."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from core.exceptions import Conflict
from crm import account_page_cache, events, permissions
from crm.models import Account, Contact
from crm.services.shared import require_not_merged


@transaction.atomic
def account_archive(*, account: Account, by: Any) -> Account:
    account = Account.objects.select_for_update().get(pk=account.pk)
    permissions.require_can_archive(by, account)
    require_not_merged(account)
    if account.archived_at is not None:
        raise Conflict(f"{account.name} is already archived.")
    account.archived_at = timezone.now()
    account.save(update_fields=["archived_at", "updated_at"])
    events.account_archived_event(account=account, by=by)
    account_page_cache.bump_account(account.pk)
    return account


@transaction.atomic
def account_restore(*, account: Account, by: Any) -> Account:
    account = Account.objects.select_for_update().get(pk=account.pk)
    permissions.require_can_archive(by, account)
    require_not_merged(account)
    if account.archived_at is None:
        raise Conflict(f"{account.name} is not archived.")
    account.archived_at = None
    account.save(update_fields=["archived_at", "updated_at"])
    events.account_archived_event(account=account, by=by, restored=True)
    account_page_cache.bump_account(account.pk)
    return account


@transaction.atomic
def contact_archive(*, contact: Contact, by: Any) -> Contact:
    """An archived contact is no longer the primary one (the primary contact is on the list)."""
    Account.objects.select_for_update().get(pk=contact.account_id)
    contact = Contact.objects.select_related("account").get(pk=contact.pk)
    permissions.require_can_archive(by, contact.account)
    require_not_merged(contact)
    if contact.archived_at is not None:
        raise Conflict(f"{contact.full_name} is already archived.")
    contact.archived_at = timezone.now()
    contact.is_primary = False
    contact.save(update_fields=["archived_at", "is_primary"])
    events.contact_event(
        account=contact.account, by=by, event_type="contact.archived",
        subject=f"Contact {contact.full_name} archived", changed={"contact": contact.pk},
    )
    return contact


@transaction.atomic
def contact_restore(*, contact: Contact, by: Any) -> Contact:
    Account.objects.select_for_update().get(pk=contact.account_id)
    contact = Contact.objects.select_related("account").get(pk=contact.pk)
    permissions.require_can_archive(by, contact.account)
    require_not_merged(contact)
    if contact.archived_at is None:
        raise Conflict(f"{contact.full_name} is not archived.")
    contact.archived_at = None
    contact.save(update_fields=["archived_at"])
    events.contact_event(
        account=contact.account, by=by, event_type="contact.restored",
        subject=f"Contact {contact.full_name} restored", changed={"contact": contact.pk},
    )
    return contact
