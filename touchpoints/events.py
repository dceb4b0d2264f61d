"""One function per touchpoint event kind; each writes a row on the account's timeline."""

from __future__ import annotations

from typing import Any

from django.utils.translation import ngettext

from crm.events import event_record
from crm.models import Account, Activity
from handover.models import Handover
from touchpoints.models import SurveyResponse, Touchpoint


def scheduled_subject(count: int, when: str) -> str:
    """The timeline line of a scheduled agenda (the seeders write the same words)."""
    return ngettext(
        "%(count)d check-up scheduled from %(when)s", "%(count)d check-ups scheduled from %(when)s", count
    ) % {"count": count, "when": when}


def agenda_scheduled_event(*, account: Account, handover: Handover, anchor: str, count: int) -> Activity:
    when = "go-live" if anchor == "go_live" else "acceptance"
    return event_record(
        account=account,
        deal=handover.deal,
        event_type="touchpoints.agenda_scheduled",
        actor_label="Keepwarm",
        subject=scheduled_subject(count, when),
        data={"handover": handover.pk, "anchor": anchor, "count": count},
    )


def touchpoint_event(
    *, touchpoint: Touchpoint, by: Any, event: str, body: str = "", data: dict[str, Any] | None = None
) -> Activity:
    return event_record(
        account=touchpoint.account,
        event_type=f"touchpoints.{event}",
        actor=by,
        actor_label="" if by is not None else "Keepwarm",
        subject=f"{touchpoint.title}: {event.replace('_', ' ')}",
        body=body,
        data={"touchpoint": touchpoint.pk, "state": touchpoint.state, **(data or {})},
    )


def survey_answered_event(*, response: SurveyResponse, contact_name: str) -> Activity:
    touchpoint = response.touchpoint
    return event_record(
        account=touchpoint.account,
        event_type="touchpoints.survey_answered",
        actor_label=f"customer via link ({contact_name})",
        ip_address=response.ip_address,
        subject=f"Survey answered: {response.satisfaction}/5, "
        f"{'as expected' if response.as_expected else 'not as expected'}"
        f"{', complaint' if response.is_complaint else ''}",
        body=response.comment,
        data={
            "touchpoint": touchpoint.pk,
            "response": response.pk,
            "satisfaction": response.satisfaction,
            "as_expected": response.as_expected,
            "complaint": response.is_complaint,
        },
    )
