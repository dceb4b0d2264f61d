"""What customer links do when crm says something happened to a contact."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from crm.models import Contact
from crm.signals import contact_address_lapsed
from customer_links.services import links_revoke_for_contact


@receiver(contact_address_lapsed, sender=Contact)
def revoke_links_of_lapsed_contact(*, contact: Contact, **kwargs: Any) -> None:
    """Someone who left, asked not to be contacted or changed address keeps no live link."""
    links_revoke_for_contact(contact)
