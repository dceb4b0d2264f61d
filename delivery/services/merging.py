"""Projects, stages, problems and sign-offs following a merge (flows.account_merge,
flows.contact_merge): they go to the survivor. Run in the flow's transaction, after crm has
checked who may merge and locked both records."""

from __future__ import annotations

from crm.models import Account, Contact
from delivery.models import Problem, Project, SignOff, Stage


def projects_move_to_account(*, from_account: Account, to_account: Account) -> int:
    """The merged account's projects (with their stages' copy of the account) and problems."""
    moved = Project.objects.filter(account=from_account).update(account=to_account)
    Stage.objects.filter(account=from_account).update(account=to_account)
    return moved + Problem.objects.filter(account=from_account).update(account=to_account)


def signoffs_move_to_contact(*, from_contact: Contact, to_contact: Contact) -> int:
    """Stages the merged contact signs and the sign-offs they gave name the survivor."""
    moved = Stage.objects.filter(signer=from_contact).update(signer=to_contact)
    return moved + SignOff.objects.filter(contact=from_contact).update(contact=to_contact)
