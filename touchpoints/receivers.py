"""touchpoints adds its sections to crm's account page and delivery's portal (neither imports
touchpoints)."""

from typing import Any

from django.dispatch import receiver
from django.utils import timezone

from crm.models import Account
from crm.signals import account_page_sections
from delivery.signals import portal_sections
from touchpoints import selectors, services
from touchpoints.models import Touchpoint


@receiver(portal_sections)
def upcoming_checkups(sender: Any, account: Any, **kwargs: Any) -> dict[str, Any]:
    upcoming = list(
        Touchpoint.objects.filter(account=account, state=Touchpoint.State.SCHEDULED)
        .exclude(kind="renewal")
        .select_related("owner")
        .order_by("due_at")[:10]
    )
    return {"title": "Upcoming check-ups", "template": "touchpoints/customer/_portal_agenda.html",
            "context": {"touchpoints": upcoming, "account": account}}


@receiver(account_page_sections)
def account_agenda(sender: Any, account: Any, user: Any, **kwargs: Any) -> dict[str, Any] | None:
    """The account page's "Check-ups" section: what is scheduled and what happened lately. A
    prospect has no agenda (it starts when a handover is accepted), so its page costs nothing."""
    if account.lifecycle == Account.Lifecycle.PROSPECT or not services.can_see_account_agenda(user, account):
        return None
    return {"title": "Check-ups", "template": "touchpoints/_account_agenda.html",
            "context": selectors.account_agenda(account, timezone.now())}


