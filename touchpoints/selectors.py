"""Page-shaped reads for check-ups: a person's week, the team calendar's grid and the account's
agenda. Each takes a fixed number of queries whatever the number of touchpoints."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from core.names import person_fields
from crm import roles
from crm.models import Account
from touchpoints.models import Touchpoint
from touchpoints.permissions import TEAMS

WEEK_LIMIT = 300  # a person's two weeks plus their backlog; more is a staffing problem, not a page
CALENDAR_LIMIT = 2000
AGENDA_UPCOMING = 12
AGENDA_RECENT = 8
AGENDA_ROWS = 200
RECENT_DAYS = 180
SHOWN_STATES = [Touchpoint.State.SCHEDULED, Touchpoint.State.DONE, Touchpoint.State.MISSED]


def _midnight(day: date, zone: zoneinfo.ZoneInfo) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=zone)


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


# --- My week ----------------------------------------------------------------------------------


@dataclass
class Week:
    today: date
    start: date  # Monday of this week
    now_first: list[Touchpoint] = field(default_factory=list)  # overdue and today
    later: list[Touchpoint] = field(default_factory=list)  # the rest of this week
    next_week: list[Touchpoint] = field(default_factory=list)
    earlier: list[Touchpoint] = field(default_factory=list)  # closed earlier this week
    capped: bool = False
    limit: int = WEEK_LIMIT

    @property
    def next_start(self) -> date:
        return self.start + timedelta(days=7)

    @property
    def overdue(self) -> int:
        return sum(1 for t in self.now_first if getattr(t, "is_overdue", False))

    @property
    def due_today(self) -> int:
        return sum(
            1 for t in self.now_first
            if t.state == Touchpoint.State.SCHEDULED and getattr(t, "is_today", False)
            and not getattr(t, "is_overdue", False)
        )

    @property
    def open_later(self) -> int:
        return sum(1 for t in [*self.later, *self.next_week] if t.state == Touchpoint.State.SCHEDULED)

    @property
    def done(self) -> int:
        return sum(1 for t in [*self.earlier, *self.now_first, *self.later] if t.state == Touchpoint.State.DONE)


def mark_timing(touchpoint: Touchpoint, now: datetime, zone: zoneinfo.ZoneInfo) -> Touchpoint:
    """Sets is_overdue / is_today for the row's highlight (in the viewer's time zone)."""
    today = now.astimezone(zone).date()
    scheduled = touchpoint.state == Touchpoint.State.SCHEDULED
    touchpoint.is_today = touchpoint.due_at.astimezone(zone).date() == today  # type: ignore[attr-defined]
    touchpoint.is_overdue = scheduled and touchpoint.due_at < now  # type: ignore[attr-defined]
    return touchpoint


def week_rows(*, viewer: Any, owner: Any, now: datetime, zone: zoneinfo.ZoneInfo) -> QuerySet[Touchpoint]:
    """`owner`'s touchpoints as `viewer` sees them: every open one due before the end of next
    week (however overdue), and the closed ones of this week and next (the week page's rows,
    and its CSV export's)."""
    start = week_start(now.astimezone(zone).date())
    end = _midnight(start + timedelta(days=14), zone)
    return (
        Touchpoint.objects.visible_to(viewer)
        .filter(owner=owner, due_at__lt=end)
        .filter(Q(state=Touchpoint.State.SCHEDULED) | Q(due_at__gte=_midnight(start, zone)))
        .select_related("account", "contact", "owner", "completed_by")
        .order_by("due_at", "pk")
    )


def week_of(*, viewer: Any, owner: Any, now: datetime, zone: zoneinfo.ZoneInfo) -> Week:
    """`week_rows` grouped as the week page shows them. One query."""
    today = now.astimezone(zone).date()
    start = week_start(today)
    tomorrow = _midnight(today + timedelta(days=1), zone)
    next_monday = _midnight(start + timedelta(days=7), zone)
    rows = list(week_rows(viewer=viewer, owner=owner, now=now, zone=zone)[: WEEK_LIMIT + 1])
    week = Week(today=today, start=start, capped=len(rows) > WEEK_LIMIT)
    for touchpoint in rows[:WEEK_LIMIT]:
        mark_timing(touchpoint, now, zone)
        if touchpoint.due_at >= next_monday:
            week.next_week.append(touchpoint)
        elif touchpoint.due_at >= tomorrow:
            week.later.append(touchpoint)
        elif touchpoint.is_today or touchpoint.state == Touchpoint.State.SCHEDULED:  # type: ignore[attr-defined]
            week.now_first.append(touchpoint)
        else:
            week.earlier.append(touchpoint)
    return week


def people_to_pick() -> list[Any]:
    """Whose week a manager may open: active people with a role."""
    return list(
        get_user_model().objects.filter(is_active=True, groups__name__in=roles.ALL_ROLES).distinct()
        .order_by("first_name", "last_name", "username")
    )


# --- Team calendar ----------------------------------------------------------------------------


@dataclass
class CalendarRow:
    person: Any
    days: list[list[Touchpoint]]

    @property
    def count(self) -> int:
        return sum(len(day) for day in self.days)


def team_calendar(*, viewer: Any, start: date, team: str, zone: zoneinfo.ZoneInfo) -> dict[str, Any]:
    """The week from Monday `start` as a grid of people x days. Two queries: the people of the
    team, then their touchpoints of the week (scheduled, done, missed)."""
    days = [start + timedelta(days=i) for i in range(7)]
    people = list(_team_people(team).order_by("first_name", "last_name", "username"))
    touchpoints = calendar_rows(viewer=viewer, start=start, team=team, zone=zone, people=[p.pk for p in people])
    rows_by_owner: dict[int, CalendarRow] = {p.pk: CalendarRow(p, [[] for _ in days]) for p in people}
    counts = {state: 0 for state in SHOWN_STATES}
    listed = list(touchpoints[:CALENDAR_LIMIT])
    for touchpoint in listed:
        row = rows_by_owner.get(touchpoint.owner_id)
        if row is None:  # someone without a role any more (or deactivated) still owns it: show them
            row = rows_by_owner[touchpoint.owner_id] = CalendarRow(touchpoint.owner, [[] for _ in days])
        row.days[(touchpoint.due_at.astimezone(zone).date() - start).days].append(touchpoint)
        counts[touchpoint.state] += 1
    return {
        "days": days,
        "rows": list(rows_by_owner.values()),
        "counts": counts,
        "capped": len(listed) >= CALENDAR_LIMIT,
    }


def _team_people(team: str) -> QuerySet[Any]:
    """The active people of a team (of every role without one)."""
    people = get_user_model().objects.filter(is_active=True)
    return people.filter(groups__name__in=TEAMS.get(team) or roles.ALL_ROLES).distinct()


def calendar_rows(
    *, viewer: Any, start: date, team: str, zone: zoneinfo.ZoneInfo, people: list[int] | None = None
) -> QuerySet[Touchpoint]:
    """The team calendar's touchpoints of the week from Monday `start` (scheduled, done,
    missed), of the team's people when a team is chosen (`people`, their ids when already read),
    in due order: the grid's rows, and its CSV export's."""
    touchpoints = Touchpoint.objects.visible_to(viewer).filter(
        due_at__gte=_midnight(start, zone), due_at__lt=_midnight(start + timedelta(days=7), zone),
        state__in=SHOWN_STATES,
    )
    if team in TEAMS:
        if people is None:
            people = list(_team_people(team).values_list("pk", flat=True))
        touchpoints = touchpoints.filter(owner__in=people)
    return touchpoints.select_related("account", "owner", "contact").order_by("due_at", "pk")


# --- The account page's agenda ----------------------------------------------------------------


def account_agenda(account: Account, now: datetime) -> dict[str, Any]:
    """What is scheduled next, and what happened lately (done or missed, within RECENT_DAYS).
    One query: an account's agenda is a few dozen touchpoints at most."""
    since = now - timedelta(days=RECENT_DAYS)
    # Only the columns touchpoints/_account_agenda.html shows: touchpoint rows are wide.
    rows = list(
        Touchpoint.objects.filter(account=account)
        .filter(Q(state=Touchpoint.State.SCHEDULED)
                | Q(state__in=[Touchpoint.State.DONE, Touchpoint.State.MISSED], due_at__gte=since))
        .select_related("owner", "contact", "survey_response")
        .only(
            "account_id", "title", "channel", "due_at", "state", "satisfaction", "notes",
            "contact__first_name", "contact__last_name", *person_fields("owner"),
            "survey_response__satisfaction", "survey_response__as_expected",
        )
        .order_by("due_at", "pk")[:AGENDA_ROWS]
    )
    upcoming = [t for t in rows if t.state == Touchpoint.State.SCHEDULED][:AGENDA_UPCOMING]
    recent = [t for t in reversed(rows) if t.state != Touchpoint.State.SCHEDULED][:AGENDA_RECENT]
    return {"account": account, "upcoming": upcoming, "recent": recent}
