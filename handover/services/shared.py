"""What both of handover's service modules check: that a contact named on a promise or a
handover is one of the account's."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from crm.models import Account, Contact


def check_contact(contact: Contact | None, account: Account, field: str) -> None:
    if contact is not None and contact.account_id != account.pk:
        raise ValidationError({field: "Choose a contact of this account."})
