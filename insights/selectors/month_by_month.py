"""Month by month, for the performance dashboard and the person page: deals won, promises made
(and, of those, kept and broken today) and problems traced, with the scorecards' attribution
(insights.selectors.scorecards)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Q
from django.db.models.functions import TruncMonth
from django.utils import timezone

from crm.models import Deal
from delivery.models import Problem
from handover.models import Promise
from insights import permissions
from insights.selectors.scorecards import counted_people
from insights.selectors.shared import Period

TREND_MONTHS = 6  # at least; more when the period spans more months


@dataclass
class MonthPoint:
    month: date
    deals_won: int = 0
    promises_made: int = 0
    promises_kept: int = 0
    promises_broken: int = 0
    problems_traced: int = 0

    @property
    def label(self) -> str:
        return self.month.strftime("%b %Y")


def _months(end: date, count: int) -> list[date]:
    first = end.replace(day=1)
    months = []
    for _ in range(count):
        months.append(first)
        first = (first - timedelta(days=1)).replace(day=1)
    return list(reversed(months))


def trends(*, period: Period, team: int | None, viewer: Any, person: Any = None) -> list[MonthPoint]:
    """Month by month over the months the period touches (at least the TREND_MONTHS months ending
    with its last month, so a short period still shows a trend). For one person, their team, or
    everyone the viewer may see."""
    permissions.require_scorecards(viewer)
    spanned = (period.end.year - period.start.year) * 12 + period.end.month - period.start.month + 1
    months = _months(period.end, max(TREND_MONTHS, spanned))
    window = Period(start=months[0], end=period.end)
    ids = counted_people(team=team, viewer=viewer, person=person)
    points = {m: MonthPoint(month=m) for m in months}

    def month_of(value: Any) -> date:
        return timezone.localtime(value).date() if isinstance(value, datetime) else value

    # Deals won: in the month they were won, for their seller.
    deals = Deal.objects.filter(window.q("closed_at"), stage=Deal.Stage.WON)
    # Promises made: in the month they were made, for their maker; kept and broken: what became
    # of those promises since.
    promises = Promise.objects.filter(window.q("made_at"))
    # Problems traced: in the month they were raised, naming a promise (customer-side changes aside).
    problems = Problem.objects.filter(window.q("raised_at")).exclude(category=Promise.CUSTOMER_SIDE_CHANGE)
    if ids is not None:
        deals = deals.filter(sold_by__in=ids)
        promises = promises.filter(made_by__in=ids)
        problems = problems.filter(promises__made_by__in=ids)
    else:
        problems = problems.filter(promises__isnull=False)
    tz = timezone.get_current_timezone()
    # COUNT(*): the won-deals index (crm's deal_won_closed) answers it without reading the deals.
    for r in deals.annotate(m=TruncMonth("closed_at", tzinfo=tz)).values("m").annotate(n=Count("*")):
        points[month_of(r["m"])].deals_won = r["n"]
    kept, broken = Promise.State.KEPT, Promise.State.BROKEN
    for r in promises.annotate(m=TruncMonth("made_at", tzinfo=tz)).values("m").annotate(
        n=Count("pk"), kept=Count("pk", filter=Q(state=kept)), broken=Count("pk", filter=Q(state=broken))
    ):
        point = points[month_of(r["m"])]
        point.promises_made, point.promises_kept, point.promises_broken = r["n"], r["kept"], r["broken"]
    for r in problems.annotate(m=TruncMonth("raised_at", tzinfo=tz)).values("m").annotate(
        n=Count("pk", distinct=True)
    ):
        points[month_of(r["m"])].problems_traced = r["n"]
    return [points[m] for m in months]
