"""The performance dashboard: one scorecard per rep and pre-sales consultant over the period, and
the team total (which counts each deal, promise, problem and check-up once).

Attribution (who a figure belongs to) is never the account's current owner, which moves with
every reassignment:
- a won deal belongs to its frozen seller (`Deal.sold_by`, set when it was won);
- a promise belongs to its frozen maker (`Promise.made_by`), so a pre-sales consultant's promise
  on a rep's deal counts for the consultant, the deal for the rep;
- a problem counts against the makers of the promises it names (a problem naming no promise
  counts against nobody; a customer-side change is not the maker's fault and does not count);
- returned and rejected handovers, and the time from won to accepted, belong to the seller;
- day-30 satisfaction belongs to the seller and to every maker of a promise on the deal;
- a check-up belongs to its owner (who ran it).

Each figure's definition is written beside the code that counts it. The figures are a fixed
number of grouped queries whatever the data's size; medians are taken in Python over one
fetched column.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import Group
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery, Sum
from django.utils import timezone

from crm import roles
from crm.models import Activity, Deal
from delivery.models import Problem
from handover.models import Handover, Promise
from insights import permissions
from insights.selectors.shared import Period, User, display_name, median, team_member_ids
from touchpoints.models import AgendaStep, Touchpoint

ON_TIME_HOURS = 24
DAY30_OFFSET = 30


@dataclass
class Scorecard:
    """One row of the performance dashboard (a person, or the team total when person_id is None)."""

    person_id: int | None
    name: str
    role: str = ""
    is_active: bool = True
    deals_won: int = 0
    won_value: dict[str, Decimal] = field(default_factory=dict)
    promises_made: int = 0
    promises_kept: int = 0
    promises_broken: int = 0
    promises_reset: int = 0
    promises_withdrawn: int = 0
    promises_active: int = 0
    problems_traced: int = 0
    won_deals_involved: int = 0
    handovers_returned: int = 0
    handovers_rejected: int = 0
    median_days_won_to_accepted: float | None = None
    median_day30_satisfaction: float | None = None
    day30_answers: int = 0
    checkups_due: int = 0
    checkups_on_time: int = 0

    @property
    def kept_rate(self) -> float | None:
        """Kept rate: promises kept / promises with an outcome (kept or broken), by maker, in %."""
        judged = self.promises_kept + self.promises_broken
        return round(100 * self.promises_kept / judged, 1) if judged else None

    @property
    def problems_per_won_deal(self) -> float | None:
        """Problems traced / the won deals the person sold or made a promise on."""
        return round(self.problems_traced / self.won_deals_involved, 2) if self.won_deals_involved else None

    @property
    def checkups_on_time_rate(self) -> float | None:
        """Check-ups done on time / check-ups judged, in %."""
        return round(100 * self.checkups_on_time / self.checkups_due, 1) if self.checkups_due else None


@dataclass
class Performance:
    period: Period
    team: int | None
    rows: list[Scorecard]
    total: Scorecard | None  # None when the viewer sees only their own row


def counted_people(*, team: int | None, viewer: Any, person: Any = None) -> list[int] | None:
    """Whose figures may be counted: one person, the viewer alone (a rep or pre-sales
    consultant), a team, or everyone (None)."""
    if person is not None:
        return [person.pk]
    if not permissions.sees_everyone(viewer):
        return [viewer.pk] if permissions.has_scorecard(viewer) else []
    return team_member_ids(team)


def _people(*, scope: list[int] | None, active: set[int], fixed: bool) -> list[Any]:
    """Who gets a row: active reps and pre-sales consultants, and anyone (departed people
    included) with figures in the period (`active`). `fixed`: exactly the people in scope."""
    groups = User.groups.through.objects.filter(user=OuterRef("pk"))
    qs = User.objects.annotate(
        is_rep=Exists(groups.filter(group__name=roles.SALES_REP)),
        is_presales=Exists(groups.filter(group__name=roles.PRESALES)),
        first_role=Subquery(Group.objects.filter(user=OuterRef("pk")).order_by("name").values("name")[:1]),
    )
    if fixed:
        qs = qs.filter(pk__in=scope or [])
    else:
        qs = qs.filter(Q(is_active=True, is_rep=True) | Q(is_active=True, is_presales=True) | Q(pk__in=active))
        if scope is not None:
            qs = qs.filter(pk__in=scope)
    return list(qs.order_by("-is_active", "first_name", "last_name", "username"))


def _role_label(user: Any) -> str:
    if user.is_rep:
        return roles.SALES_REP
    if user.is_presales:
        return roles.PRESALES
    return user.first_role or ""


def _add(rows: dict[int, Scorecard], total: Scorecard, pk: int, attr: str, n: int) -> None:
    """Counts `n` for person `pk` and for the team total."""
    for target in (rows[pk], total):
        setattr(target, attr, getattr(target, attr) + n)


PROMISE_STATE_FIELD: dict[str, str] = {
    Promise.State.KEPT: "promises_kept", Promise.State.BROKEN: "promises_broken",
    Promise.State.RESET: "promises_reset", Promise.State.WITHDRAWN: "promises_withdrawn",
    Promise.State.ACTIVE: "promises_active",
}


def performance(*, period: Period, team: int | None, viewer: Any, person: Any = None) -> Performance:
    """The scorecards of the period, one per person, and the team total. `person` limits it to
    one person's row."""
    permissions.require_scorecards(viewer)
    scope = counted_people(team=team if person is None else None, viewer=viewer, person=person)
    won = Deal.objects.filter(period.q("closed_at"), stage=Deal.Stage.WON)
    made = Promise.objects.filter(period.q("made_at"))
    if scope is not None:
        won, made = won.filter(sold_by__in=scope), made.filter(made_by__in=scope)
    # Deals won: deals won in the period with the person as seller, and their value per currency.
    sales = list(won.values("sold_by", "currency").annotate(n=Count("pk"), v=Sum("value")))
    # Promises made: promises the person made in the period; kept / broken / reset / withdrawn /
    # still active are those same promises by their state today.
    promised = list(made.values("made_by", "state").annotate(n=Count("pk")))
    # Whoever sold or promised in the period gets a row, departed people included.
    active = {r["sold_by"] for r in sales} | {m["made_by"] for m in promised}
    people = _people(scope=scope, active=active, fixed=person is not None or not permissions.sees_everyone(viewer))
    ids = [p.pk for p in people]
    rows = {
        p.pk: Scorecard(person_id=p.pk, name=display_name(p), role=_role_label(p), is_active=p.is_active)
        for p in people
    }
    total = Scorecard(person_id=None, name="Team total")

    cents = Decimal("0.01")
    for r in sales:
        value = Decimal(r["v"]).quantize(cents)  # SQLite sums lose the scale
        _add(rows, total, r["sold_by"], "deals_won", r["n"])
        for target in (rows[r["sold_by"]], total):
            target.won_value[r["currency"]] = target.won_value.get(r["currency"], Decimal("0.00")) + value
    for m in promised:
        _add(rows, total, m["made_by"], "promises_made", m["n"])
        _add(rows, total, m["made_by"], PROMISE_STATE_FIELD[m["state"]], m["n"])

    _problems_traced(period=period, rows=rows, total=total, ids=ids)
    _won_deals_involved(period=period, rows=rows, total=total, ids=ids)
    _handovers_sent_back(period=period, rows=rows, total=total, ids=ids)
    _days_won_to_accepted(period=period, rows=rows, total=total, ids=ids)
    _day30(period=period, rows=rows, total=total, ids=ids)
    _checkups_on_time(period=period, rows=rows, total=total, ids=ids)
    return Performance(
        period=period, team=team, rows=[rows[p.pk] for p in people],
        total=total if permissions.sees_everyone(viewer) and person is None else None,
    )


def _problems_traced(*, period: Period, rows: dict[int, Scorecard], total: Scorecard, ids: list[int]) -> None:
    """Problems traced: problems raised in the period that name a promise the person made
    (customer-side changes excluded). The total counts each problem once."""
    traced = Problem.objects.filter(period.q("raised_at")).exclude(category=Promise.CUSTOMER_SIDE_CHANGE)
    links = Problem.promises.through.objects.filter(problem__in=traced, promise__made_by__in=ids)
    for t in links.values("promise__made_by").annotate(n=Count("problem", distinct=True)):
        rows[t["promise__made_by"]].problems_traced = t["n"]
    total.problems_traced = links.aggregate(n=Count("problem", distinct=True))["n"]


def _won_deals_involved(*, period: Period, rows: dict[int, Scorecard], total: Scorecard, ids: list[int]) -> None:
    """Won deals worked on (the divisor of problems per won deal): deals won in the period that
    the person sold, plus those they only made a promise on."""
    helped = (
        Promise.objects.filter(period.q("deal__closed_at"), deal__stage=Deal.Stage.WON, made_by__in=ids)
        .exclude(made_by=F("deal__sold_by"))
        .values("made_by")
        .annotate(n=Count("deal", distinct=True))
    )
    helped_by = {r["made_by"]: r["n"] for r in helped}
    for pk, row in rows.items():
        row.won_deals_involved = row.deals_won + helped_by.get(pk, 0)
    total.won_deals_involved = total.deals_won + (
        Promise.objects.filter(period.q("deal__closed_at"), deal__stage=Deal.Stage.WON, made_by__in=ids)
        .exclude(deal__sold_by__in=ids)
        .aggregate(n=Count("deal", distinct=True))["n"]
    )


def _handovers_sent_back(*, period: Period, rows: dict[int, Scorecard], total: Scorecard, ids: list[int]) -> None:
    """Handovers returned by sales / rejected by delivery: those events in the period on deals
    the person sold."""
    sent_back = Activity.objects.filter(
        period.q("occurred_at"), event_type__in=["handover.returned", "handover.rejected"], deal__sold_by__in=ids
    )
    for e in sent_back.values("deal__sold_by", "event_type").annotate(n=Count("pk")):
        attr = "handovers_returned" if e["event_type"] == "handover.returned" else "handovers_rejected"
        _add(rows, total, e["deal__sold_by"], attr, e["n"])


def _days_won_to_accepted(*, period: Period, rows: dict[int, Scorecard], total: Scorecard, ids: list[int]) -> None:
    """Median days from won to accepted: over the handovers accepted in the period of deals the
    person sold."""
    waits: dict[int, list[float]] = defaultdict(list)
    accepted = Handover.objects.filter(period.q("accepted_at"), state=Handover.State.ACCEPTED, deal__sold_by__in=ids)
    for seller, closed_at, accepted_at in accepted.values_list("deal__sold_by", "deal__closed_at", "accepted_at"):
        if closed_at is not None and accepted_at is not None:
            waits[seller].append((accepted_at - closed_at).total_seconds() / 86400)
    for pk, values in waits.items():
        rows[pk].median_days_won_to_accepted = median(values)
    total.median_days_won_to_accepted = median(v for values in waits.values() for v in values)


def day30_touchpoints() -> Any:
    """The check-ups scheduled 30 days after acceptance (the 30-day agenda's review)."""
    steps = AgendaStep.objects.filter(anchor=AgendaStep.Anchor.ACCEPTED, offset_days=DAY30_OFFSET)
    return Touchpoint.objects.filter(step__in=steps, handover__isnull=False)


def _day30(*, period: Period, rows: dict[int, Scorecard], total: Scorecard, ids: list[int]) -> None:
    """Median day-30 satisfaction: over the 30-day reviews due in the period on deals the person
    sold or made a promise on: the customer's survey answer, else the score recorded at the
    check-up. The total pools each review once."""
    due = day30_touchpoints().filter(period.q("due_at")).order_by()
    scores = {}
    for pk, deal_id, seller, recorded, answered in due.values_list(
        "pk", "handover__deal_id", "handover__deal__sold_by", "satisfaction", "survey_response__satisfaction"
    ):
        score = answered if answered is not None else recorded
        if score is not None:
            scores[pk] = (deal_id, seller, score)
    makers: dict[int, set[int]] = defaultdict(set)
    for deal_id, maker in Promise.objects.filter(deal_id__in=due.values("handover__deal_id")).values_list(
        "deal_id", "made_by"
    ):
        makers[deal_id].add(maker)
    by_person: dict[int, list[int]] = defaultdict(list)
    pooled = []
    for deal_id, seller, score in scores.values():
        people = ({seller} | makers[deal_id]) & set(ids)
        for pk in people:
            by_person[pk].append(score)
        if people:
            pooled.append(score)
    for pk, values in by_person.items():
        rows[pk].median_day30_satisfaction = median(values)
        rows[pk].day30_answers = len(values)
    total.median_day30_satisfaction = median(pooled)
    total.day30_answers = len(pooled)


def _checkups_on_time(*, period: Period, rows: dict[int, Scorecard], total: Scorecard, ids: list[int]) -> None:
    """Check-ups on time: of the person's check-ups due in the period (cancelled ones aside; those
    still inside their window are not judged yet), how many were done within ON_TIME_HOURS of
    their due time."""
    window = timedelta(hours=ON_TIME_HOURS)
    judged = (
        Touchpoint.objects.filter(period.q("due_at"), owner__in=ids)
        .exclude(state=Touchpoint.State.CANCELLED)
        .filter(Q(closed_at__isnull=False) | Q(due_at__lte=timezone.now() - window))
    )
    on_time = Q(state=Touchpoint.State.DONE, closed_at__lte=F("due_at") + window)
    for c in judged.values("owner").annotate(n=Count("pk"), ok=Count("pk", filter=on_time)):
        _add(rows, total, c["owner"], "checkups_due", c["n"])
        _add(rows, total, c["owner"], "checkups_on_time", c["ok"])
