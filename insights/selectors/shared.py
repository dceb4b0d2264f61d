"""What every dashboard's reads share: the period, the team filter, people's names and medians.

The period is half-open in time: from `start` 00:00 to the day after `end` 00:00 (dates in the
site's time zone). The team filter is a manager: their reports (crm.UserProfile.manager) and
themselves.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from core.names import display_name
from core.wording import possessive
from crm.models import UserProfile

User = get_user_model()

LIST_LIMIT = 100  # rows a dashboard lists at most; its counts cover them all


@dataclass(frozen=True)
class Period:
    """Calendar days from `start` to `end`, both included, in the site's time zone."""

    start: date
    end: date

    @classmethod
    def last_days(cls, days: int, today: date | None = None) -> Period:
        today = today or timezone.localdate()
        return cls(start=today - timedelta(days=days - 1), end=today)

    @property
    def start_at(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.start, time.min))

    @property
    def end_at(self) -> datetime:
        """The first moment after the period (exclusive bound)."""
        return timezone.make_aware(datetime.combine(self.end + timedelta(days=1), time.min))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def q(self, field_name: str) -> Q:
        return Q(**{f"{field_name}__gte": self.start_at, f"{field_name}__lt": self.end_at})


def team_member_ids(team: int | None) -> list[int] | None:
    """The team of manager `team`: the people reporting to them, and them. None: everyone."""
    if team is None:
        return None
    return [team, *UserProfile.objects.filter(manager_id=team).values_list("user_id", flat=True)]


def team_choices() -> list[tuple[int, str]]:
    """Managers with at least one report, for the team filter."""
    managers = User.objects.filter(reports__isnull=False).distinct().order_by("first_name", "last_name", "username")
    return [(m.pk, f"{possessive(display_name(m))} team") for m in managers]


def median(values: Iterable[float]) -> float | None:
    """The median rounded to one decimal; None when there is nothing to take it of."""
    values = list(values)
    return round(float(statistics.median(values)), 1) if values else None
