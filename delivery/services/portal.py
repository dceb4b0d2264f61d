"""The customer portal's read-only link: sending it to a contact, and revoking it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from crm.models import Account, Contact
from customer_links import services as links
from customer_links import tasks as customer_links_tasks
from customer_links.models import CustomerLink
from delivery import events, permissions
from delivery.services.shared import setting


@transaction.atomic
def portal_link_issue(*, account: Account, by: Any, contact: Contact | None) -> CustomerLink:
    """A read-only portal link for the account, emailed to a contact; it replaces the previous one."""
    if not (by.pk == account.owner_id or permissions.can_raise_problem(by, account)):
        raise PermissionDenied("Only the account team sends portal links.")
    if contact is None or contact.account_id != account.pk or not contact.is_active or not contact.email:
        raise ValidationError({"contact": "Choose an active contact of this account with an email."})
    if contact.do_not_contact:
        raise ValidationError({"contact": "This contact asked not to be contacted."})
    # Two sends at once would both find no live link to revoke and both insert one, and the
    # one-live-link constraint would fail the second with an IntegrityError: the account's row
    # lock (taken first, as every account write does) makes each send replace the previous.
    Account.objects.select_for_update().filter(pk=account.pk).values_list("pk").get()
    link, _ = links.link_issue(
        purpose=CustomerLink.Purpose.PORTAL,
        account=account,
        target=account,
        contact=contact,
        by=by,
        valid_for=timedelta(days=setting("PORTAL_LINK_DAYS")),
        reusable=True,
    )
    customer_links_tasks.link_send_on_commit(link)
    events.portal_link_sent_event(account=account, by=by, link=link, contact=contact)
    return link


@transaction.atomic
def portal_link_revoke(*, account: Account, by: Any) -> int:
    if not (by.pk == account.owner_id or permissions.can_raise_problem(by, account)):
        raise PermissionDenied("Only the account team revokes portal links.")
    revoked = links.link_revoke_live(purpose=CustomerLink.Purpose.PORTAL, target=CustomerLink.target_of(account))
    if revoked:
        events.portal_link_revoked_event(account=account, by=by)
    return revoked
