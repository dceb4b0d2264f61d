"""Promises and handovers following a merge (flows.account_merge, flows.contact_merge): they
go to the survivor. Run in the flow's transaction, after crm has checked who may merge and
locked both records."""

from __future__ import annotations

from crm.models import Account, Contact
from handover.models import Handover, HandoverContact, Promise


def handovers_move_to_account(*, from_account: Account, to_account: Account) -> int:
    """The merged account's handovers and promises go to the survivor (their deals go with it
    in crm's part of the merge)."""
    moved = Handover.objects.filter(account=from_account).update(account=to_account)
    return moved + Promise.objects.filter(account=from_account).update(account=to_account)


def promises_move_to_contact(*, from_contact: Contact, to_contact: Contact) -> int:
    """Promises made to (or resets agreed by) the merged contact name the survivor; a handover
    that named both keeps one row, the survivor's."""
    moved = Promise.objects.filter(made_to=from_contact).update(made_to=to_contact)
    moved += Promise.objects.filter(reset_agreed_by=from_contact).update(reset_agreed_by=to_contact)
    both = HandoverContact.objects.filter(contact=to_contact).values("handover_id")
    HandoverContact.objects.filter(contact=from_contact, handover_id__in=both).delete()
    return moved + HandoverContact.objects.filter(contact=from_contact).update(contact=to_contact)
