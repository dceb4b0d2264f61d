"""Contacts: adding and editing the account's people, one primary contact at a time; someone
who leaves or asks not to be contacted keeps no live customer link."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.validation import validate_model
from crm import events, permissions
from crm.models import Account, Contact
from crm.services.shared import apply_changes, require_not_merged
from crm.signals import contact_address_lapsed

CONTACT_FIELDS = (
    "first_name", "last_name", "title", "role", "email", "phone", "preferred_channel", "best_time",
    "do_not_contact", "is_primary", "is_active", "left_at",
)


def _contact_rules(contact: Contact) -> None:
    if not contact.is_active and contact.left_at is None:
        contact.left_at = timezone.localdate()
    if contact.is_active:
        contact.left_at = None
    if contact.is_primary and not contact.is_active:
        raise ValidationError({"is_primary": "A contact who has left cannot be the primary contact."})


@transaction.atomic
def contact_create(*, account: Account, by: Any, first_name: str, **fields: Any) -> Contact:
    account = Account.objects.select_for_update().get(pk=account.pk)
    permissions.require_can_edit_account(by, account)
    require_not_merged(account)
    unknown = set(fields) - set(CONTACT_FIELDS)
    if unknown:
        raise ValidationError({n: "Unknown field." for n in sorted(unknown)})
    contact = Contact(account=account, first_name=first_name, **fields)
    _contact_rules(contact)
    validate_model(contact)
    if not account.contacts.filter(is_primary=True).exists() and contact.is_active:
        contact.is_primary = True  # the first active contact is the primary one until changed
    if contact.is_primary:
        account.contacts.filter(is_primary=True).update(is_primary=False)
    contact.save()
    events.contact_event(
        account=account, by=by, event_type="contact.added",
        subject=f"Contact {contact.full_name} added ({contact.get_role_display()})",
        changed={"contact": contact.pk},
    )
    return contact


@transaction.atomic
def contact_update(*, contact: Contact, by: Any, **data: Any) -> Contact:
    Account.objects.select_for_update().get(pk=contact.account_id)
    contact = Contact.objects.select_related("account").get(pk=contact.pk)
    permissions.require_can_edit_account(by, contact.account)
    require_not_merged(contact)
    was_active = contact.is_active
    changed = apply_changes(contact, data, CONTACT_FIELDS)
    if not changed:
        return contact
    _contact_rules(contact)
    validate_model(contact)
    if contact.is_primary:
        contact.account.contacts.exclude(pk=contact.pk).filter(is_primary=True).update(is_primary=False)
    contact.save()
    if not contact.is_active or contact.do_not_contact or "email" in changed:
        # Someone who left, asked not to be contacted or changed address keeps no live link.
        contact_address_lapsed.send(sender=Contact, contact=contact)
    if was_active and not contact.is_active:
        subject = f"{contact.full_name} left the organisation"
    else:
        subject = f"Contact {contact.full_name} updated"
    events.contact_event(
        account=contact.account, by=by, event_type="contact.updated", subject=subject,
        changed={"contact": contact.pk, "changed": changed},
    )
    return contact
