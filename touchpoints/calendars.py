"""RFC 5545 calendars of touchpoints (icalendar): a user's private feed and an account's agenda."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from icalendar import Calendar, Event

from touchpoints.models import Channel, Touchpoint

DURATION: dict[str, timedelta] = {
    Channel.VISIT: timedelta(hours=2),
    Channel.VIDEO: timedelta(hours=1),
    Channel.PHONE: timedelta(minutes=30),
}


def build(touchpoints: Iterable[Touchpoint], *, name: str, for_customer: bool = False) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//Keepwarm//Check-ups//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    host = settings.SITE_URL.split("//", 1)[-1].split("/", 1)[0] or "keepwarm"
    now = timezone.now()
    for touchpoint in touchpoints:
        event = Event()
        event.add("uid", f"touchpoint-{touchpoint.pk}@{host}")
        event.add("dtstamp", now)
        event.add("dtstart", touchpoint.due_at)
        event.add("dtend", touchpoint.due_at + DURATION.get(touchpoint.channel, timedelta(minutes=30)))
        event.add("sequence", touchpoint.version)
        owner = touchpoint.owner.get_full_name() or touchpoint.owner.get_username()
        if for_customer:
            event.add("summary", f"{touchpoint.get_kind_display()} with {owner}")
            event.add("description", f"{touchpoint.get_channel_display()}. {touchpoint.objectives}")
        else:
            who = f" ({touchpoint.contact.full_name})" if touchpoint.contact else ""
            event.add("summary", f"{touchpoint.title}: {touchpoint.account.name}{who}")
            event.add("description", f"{touchpoint.get_channel_display()}. {touchpoint.objectives}")
        event.add("status", "CANCELLED" if touchpoint.state in ("cancelled", "skipped") else "CONFIRMED")
        calendar.add_component(event)
    return calendar.to_ical()
