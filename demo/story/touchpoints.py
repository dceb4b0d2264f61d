"""Demo check-ups: the agendas that the demo's accepted handovers scheduled (dated at seed time)
are moved back to the day each was accepted (the handover demo dates them days to weeks ago,
the demo rep's the youngest), so each customer is at a different point of its first 30 days: some check-ups
done with their outcomes, one missed, a few overdue or due today for the demo "delivery" and
"rep" users, and one customer who answered the day-7 survey unhappily (a check-up problem).

The outbox stays consistent with that past: what fell due before now is marked sent (reminders,
the missed escalation, the surveys, whose links exist) or was cancelled by the service that
closed the touchpoint, so a fresh `make run` does not fire a burst of stale reminders.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from crm.models import Activity
from customer_links.models import CustomerLink
from delivery.models import Problem
from demo.story.clock import DemoClock
from handover.models import Handover
from outbox.models import Notice
from touchpoints import services
from touchpoints.models import Kind, SurveyResponse, Touchpoint

OUTCOMES: dict[str, list[tuple[int, bool, str]]] = {
    Kind.THANK_YOU: [
        (5, True, "Sent the thank-you note with the delivery owner's details; they replied they are looking "
                  "forward to the kickoff."),
        (4, True, "Thank-you note sent; the champion asked for the invoice schedule, forwarded to billing."),
    ],
    Kind.DELIVERY_CONFIRMATION: [
        (4, True, "Confirmed the kickoff date and who is on site. They asked for the training plan in advance."),
        (5, True, "Everything confirmed: site access, parking, the IT contact for the network."),
        (3, True, "Dates confirmed, but their IT contact is on holiday the first week; we start with the "
                  "hardware."),
    ],
    Kind.CHECKUP_CALL: [
        (4, True, "Going well. The operators like the new screens; night shift still needs a short session."),
        (3, True, "Fine overall; two users cannot log in with their badges yet. Ticket opened with support."),
    ],
    Kind.TRAINING_CHECK: [
        (5, True, "Everyone trained; the champion now runs the weekly report on her own."),
        (4, True, "Training done for the day shift; the night shift session is booked for next week."),
    ],
    Kind.REVIEW_MEETING: [
        (4, True, "Thirty-day review: targets met, they want to discuss a second site in spring."),
    ],
}
# The outcomes that make the story (the oldest check-up call, the rep's first thank-you note,
# the check-up whose customer then answers the survey unhappily).
UNHAPPY_CALL: dict[str, Any] = {
    "satisfaction": 2, "as_expected": False,
    "notes": "The installation slipped a week and the plant manager had to run line 1 on overtime. "
             "He expected us to warn him earlier.",
    "problem_title": "Installation slipped a week without warning", "problem_severity": "high",
}
REP_THANK_YOU: dict[str, Any] = {
    "satisfaction": 5, "as_expected": True,
    "notes": "Thank-you note sent. They asked for a reference customer in their industry.",
    "follow_up_title": "Send the reference-customer pack",
}
QUIET_CALL: dict[str, Any] = {
    "satisfaction": 3, "as_expected": True,
    "notes": "Polite on the phone, but short answers. Said they would fill in the survey.",
}
LOW_SURVEY: dict[str, Any] = {
    "satisfaction": 1, "as_expected": False,
    "comment": "The ERP integration still does not push our orders into SAP, and that was the main reason we "
               "bought. Nobody told us it would need a custom connector.",
}


# What an outcome or a survey answer stamps "now": the answer, and the problem it may open.
CLOCK = DemoClock([(SurveyResponse, "created_at"), (Problem, "raised_at"), (Activity, "occurred_at"),
                   (Activity, "created_at"), (CustomerLink, "used_at")])


def _ages(handovers: list[Handover], now: datetime) -> dict[int, int]:
    """How many days ago each handover was accepted (the handover demo dated it): its agenda,
    scheduled at seed time, moves back as many days."""
    today = timezone.localdate(now)
    return {h.pk: (today - timezone.localdate(h.accepted_at)).days for h in handovers if h.accepted_at}


def _weekday(moment: datetime) -> datetime:
    while moment.weekday() >= 5:  # check-ups are held on working days, as the agenda schedules them
        moment += timedelta(days=1)
    return moment


def _shift(touchpoints: list[Touchpoint], ages: dict[int, int]) -> None:
    """Moves each acceptance agenda (and what it owes in the outbox) its age into the past."""
    for touchpoint in touchpoints:
        days = ages.get(touchpoint.handover_id or 0, 0)
        if not days:
            continue
        moved = _weekday(touchpoint.due_at - timedelta(days=days))
        delta = moved - touchpoint.due_at
        touchpoint.due_at = moved
        Touchpoint.objects.filter(pk=touchpoint.pk).update(due_at=moved)
        Notice.objects.filter(target=f"{Touchpoint._meta.label_lower}:{touchpoint.pk}",
                              state=Notice.State.PENDING).update(due_at=F("due_at") + delta)


def _restamp(touchpoint: Touchpoint, closed: datetime) -> None:
    """The outcome was recorded soon after the due time, not at seed time."""
    Touchpoint.objects.filter(pk=touchpoint.pk).update(closed_at=closed)
    Activity.objects.filter(event_type__startswith="touchpoints.", data__touchpoint=touchpoint.pk).update(
        occurred_at=closed, created_at=closed
    )


def _complete(touchpoint: Touchpoint, outcome: dict[str, Any] | None, rng: random.Random, now: datetime) -> None:
    if outcome is None:
        satisfaction, as_expected, notes = rng.choice(OUTCOMES[touchpoint.kind])
        outcome = {"satisfaction": satisfaction, "as_expected": as_expected, "notes": notes}
    if outcome.get("follow_up_title"):
        outcome = {**outcome, "follow_up_at": services.working_time(touchpoint.owner, (now + timedelta(days=2)).date())}
    closed = min(touchpoint.due_at + timedelta(hours=rng.randint(1, 5)), now)
    # A problem the outcome raises is raised when the outcome was recorded, not at seed time.
    with CLOCK.at(closed):
        services.touchpoint_complete(touchpoint=touchpoint, by=touchpoint.owner, **outcome)
    _restamp(touchpoint, closed)


def _survey_links(touchpoints: list[Touchpoint], now: datetime) -> dict[int, tuple[CustomerLink, str]]:
    """The surveys that fell due were emailed: their links exist, their notices are sent."""
    issued = {}
    for touchpoint in touchpoints:
        if not touchpoint.sends_survey or touchpoint.contact_id is None or touchpoint.due_at > now:
            continue
        if touchpoint.state in (Touchpoint.State.SKIPPED, Touchpoint.State.CANCELLED):
            continue
        link, raw = services.survey_link_issue(touchpoint)
        CustomerLink.objects.filter(pk=link.pk).update(created_at=touchpoint.due_at, emailed_at=touchpoint.due_at)
        issued[touchpoint.pk] = (link, raw)
    return issued


def _settle_outbox() -> int:
    """What touchpoints owed until now went out at its time (reminders, escalations, surveys, and
    the alert about the unhappy survey, queued but not yet sent)."""
    due = Notice.objects.filter(
        kind__startswith="touchpoints.", state__in=[Notice.State.PENDING, Notice.State.CLAIMED],
        due_at__lte=timezone.now(),
    )
    return due.update(state=Notice.State.SENT, sent_at=F("due_at"), claimed_at=None, attempts=1)


def _roles(past: list[Touchpoint], rep: Any, grace: timedelta, now: datetime) -> dict[str, Touchpoint | None]:
    """Who plays which part in the story, among the check-ups already past."""
    calls = [t for t in past if t.kind == Kind.CHECKUP_CALL]
    unhappy = calls[0] if calls else None
    surveyed = [t for t in calls if t is not unhappy and t.sends_survey and t.contact_id]
    missable = [t for t in past if t.kind not in (Kind.THANK_YOU, Kind.CHECKUP_CALL) and t.due_at + grace <= now]
    rep_notes = [t for t in past if t.kind == Kind.THANK_YOU and t.owner_id == getattr(rep, "pk", None)]
    return {
        "unhappy": unhappy,
        "surveyed": surveyed[-1] if surveyed else None,
        "missed": missable[-1] if missable else None,
        "rep_note": rep_notes[0] if rep_notes else None,
    }


def seed_touchpoints(*, users: dict[str, Any], rng: random.Random, now: datetime, stdout: Any) -> None:
    handovers = list(Handover.objects.filter(state=Handover.State.ACCEPTED).order_by("pk"))
    if not handovers:
        return
    touchpoints = list(
        Touchpoint.objects.filter(handover__in=handovers, step__anchor="accepted")
        .select_related("owner__profile", "account", "contact").order_by("due_at", "pk")
    )
    _shift(touchpoints, _ages(handovers, max(now, timezone.now())))
    touchpoints.sort(key=lambda t: (t.due_at, t.pk))
    now = max(now, timezone.now())  # seed_demo's clock is rounded down to the hour
    today = timezone.localdate(now)
    # Due later, today or yesterday: still open, for "My week". The rest happened.
    past = [t for t in touchpoints if t.due_at < now and (today - timezone.localdate(t.due_at)).days > 1]
    grace = timedelta(hours=settings.KEEPWARM["TOUCHPOINT_GRACE_HOURS"])
    cast = _roles(past, users.get("rep"), grace, now)
    outcomes = {}
    for part, outcome in (("unhappy", UNHAPPY_CALL), ("surveyed", QUIET_CALL), ("rep_note", REP_THANK_YOU)):
        if cast[part] is not None:
            outcomes[cast[part].pk] = outcome  # type: ignore[union-attr]
    for touchpoint in past:
        if touchpoint is cast["missed"]:
            services.touchpoint_mark_missed(touchpoint.pk, now)
            Touchpoint.objects.filter(pk=touchpoint.pk).update(closed_at=touchpoint.due_at + grace)
        else:
            _complete(touchpoint, outcomes.get(touchpoint.pk), rng, now)
    fresh = list(Touchpoint.objects.filter(pk__in=[t.pk for t in touchpoints]).select_related("contact"))
    links = _survey_links(fresh, now)
    answered = 0
    low = cast["surveyed"]
    if low is not None and low.pk in links:
        with CLOCK.at(min(low.due_at + timedelta(hours=6), now)):
            services.survey_answer(link=links[low.pk][0], ip=None, user_agent="Demo data", **LOW_SURVEY)
        answered = 1
    settled = _settle_outbox()
    stdout.write(
        f"Check-ups: {len(touchpoints)} on {len(handovers)} accepted handovers; "
        f"{len(past) - (cast['missed'] is not None)} done with their outcome, {int(cast['missed'] is not None)} "
        f"missed, {answered} survey answered unhappily; {settled} past notices marked sent."
    )
