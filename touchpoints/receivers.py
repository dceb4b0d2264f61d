"""touchpoints reacts to handover's, delivery's and crm's signals (none of them imports touchpoints)."""

from typing import Any

from django.dispatch import receiver
from django.utils import timezone

from crm.models import Account, OwnershipChange
from crm.signals import (
    account_page_sections,
    account_reassigned,
    book_reassigned,
    contact_unreachable,
)
from delivery.signals import portal_sections, project_completed
from handover.signals import handover_accepted
from touchpoints import selectors, services
from touchpoints.models import Touchpoint


@receiver(handover_accepted)
def schedule_agenda(sender: Any, handover: Any, by: Any, **kwargs: Any) -> None:
    """Inside the acceptance transaction: no accepted handover without its check-ups."""
    project = getattr(handover, "project", None)
    services.agenda_schedule(handover=handover, anchor="accepted", anchor_at=handover.accepted_at, project=project)


@receiver(project_completed)
def schedule_after_go_live(sender: Any, project: Any, by: Any, **kwargs: Any) -> None:
    services.agenda_schedule(
        handover=project.handover, anchor="go_live", anchor_at=project.completed_at, project=project
    )


@receiver(account_reassigned)
def move_touchpoints(sender: Any, account: Any, from_user: Any, to_user: Any, **kwargs: Any) -> None:
    services.touchpoints_move_owner(account=account, from_user=from_user, to_user=to_user)


@receiver(book_reassigned)
def move_departing_touchpoints(sender: Any, from_user: Any, to_user: Any, by: Any, reason: str, **kwargs: Any) -> None:
    """A departing user's open check-ups on accounts they did not own go to their successor too."""
    if reason == OwnershipChange.Reason.DEPARTURE:
        services.touchpoints_hand_over(from_user=from_user, to_user=to_user, by=by)


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


@receiver(contact_unreachable)
def stop_contacting(sender: Any, contact: Any, **kwargs: Any) -> None:
    """A contact who left or asked not to be contacted gets no more check-ups or surveys."""
    services.touchpoints_drop_contact(contact)

