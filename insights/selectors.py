"""What managers see (product.md section 5): page-shaped reads for the four dashboards and the
person page. Every function takes the period, the team filter and the viewer, and returns plain
data (dataclasses) computed with a fixed number of aggregate queries, whatever the data's size:
grouped counts and sums in the database, medians in Python over one fetched column.

The period is half-open in time: from `start` 00:00 to the day after `end` 00:00 (dates in the
site's time zone). The team filter is a manager: their reports (crm.UserProfile.manager) and
themselves.

Attribution (who a figure belongs to)
-------------------------------------
Never the account's current owner, which moves with every reassignment:
- a won deal belongs to its frozen seller (`Deal.sold_by`, set when it was won);
- a promise belongs to its frozen maker (`Promise.made_by`), so a pre-sales consultant's promise
  on a rep's deal counts for the consultant, the deal for the rep;
- a problem counts against the makers of the promises it names (a problem naming no promise
  counts against nobody; a customer-side change is not the maker's fault and does not count);
- returned and rejected handovers, and the time from won to accepted, belong to the seller;
- day-30 satisfaction belongs to the seller and to every maker of a promise on the deal;
- a check-up belongs to its owner (who ran it).

Performance figures for a person P over the period
--------------------------------------------------
- deals won: deals won in the period with P as seller, and their value per currency;
- promises made: promises P made in the period; kept / broken / reset / withdrawn / still active:
  those same promises by their state today; kept rate = kept / (kept + broken);
- problems traced: problems raised in the period that name a promise P made (customer-side
  changes excluded); per won deal: divided by the deals won in the period that P sold or made a
  promise on;
- handovers returned by sales / rejected by delivery: those events in the period on deals P sold;
- median days from won to accepted: over the handovers accepted in the period of deals P sold;
- median day-30 satisfaction: over the check-ups scheduled 30 days after acceptance (the 30-day
  agenda's review) due in the period: the customer's survey answer, else the score recorded at
  the check-up;
- check-ups on time: of P's check-ups due in the period (cancelled ones aside; those still inside
  their window are not judged yet), how many were done within ON_TIME_HOURS of their due time.
The team total row counts each deal, promise, problem and check-up once.

Early-life risk score
---------------------
Customers whose handover was accepted in the last EARLY_LIFE_DAYS days, as of now (the period
does not apply: it is today's picture). Each account's score is the sum of:
- OVERDUE_CHECKUP_POINTS per overdue check-up (scheduled and past due, or marked missed) due
  since the start of the early-life window;
- SATISFACTION_POINTS for the last satisfaction score heard (a survey answer or a check-up's
  recorded score, whichever came last): 1/5 -> 10, 2/5 -> 6, 3/5 -> 2, 4 or 5 -> 0;
- PROBLEM_POINTS per open problem by severity: critical 8, high 5, medium 2, low 1;
- SIGNOFF_WAIT_POINTS per stage awaiting the customer's sign-off for longer than
  settings.KEEPWARM["SIGNOFF_REMINDER_DAYS"] (the point where the signer gets a reminder);
- SINGLE_THREAD_POINTS when the account is single-threaded (at most one active customer contact,
  or at most one vendor person on the team).
Each row carries the reasons that make up its score; rows rank by score, then name.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Count, Exists, F, Max, OuterRef, Q, Subquery, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import ngettext

from core.wording import possessive
from crm import roles
from crm.models import Account, AccountTeamMember, Activity, Contact, Deal, OwnershipChange, UserProfile
from delivery.models import Problem, Project, Stage
from handover.models import Handover, Promise
from insights import permissions
from touchpoints.models import AgendaStep, SurveyResponse, Touchpoint

User = get_user_model()

EARLY_LIFE_DAYS = 90
ON_TIME_HOURS = 24
OVERDUE_CHECKUP_POINTS = 3
SATISFACTION_POINTS = {1: 10, 2: 6, 3: 2}
PROBLEM_POINTS = {"critical": 8, "high": 5, "medium": 2, "low": 1}
SIGNOFF_WAIT_POINTS = 3
SINGLE_THREAD_POINTS = 4
DAY30_OFFSET = 30
TREND_MONTHS = 6  # at least; more when the period spans more months
LIST_LIMIT = 100
COUNT_CAP = 1000
CUSTOMER_LIFECYCLES = [Account.Lifecycle.CUSTOMER, Account.Lifecycle.ONBOARDING, Account.Lifecycle.ACTIVE]


# --- Filters ----------------------------------------------------------------------------------


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


def display_name(user: Any) -> str:
    if user is None:
        return "nobody"
    return str(user.get_full_name() or user.get_username())


def _name(first: str | None, last: str | None, username: str | None) -> str:
    return f"{first or ''} {last or ''}".strip() or (username or "nobody")


def _median(values: Iterable[float]) -> float | None:
    values = list(values)
    return round(float(statistics.median(values)), 1) if values else None


def _days(delta: timedelta) -> float:
    return delta.total_seconds() / 86400


# --- Performance ------------------------------------------------------------------------------


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
        judged = self.promises_kept + self.promises_broken
        return round(100 * self.promises_kept / judged, 1) if judged else None

    @property
    def problems_per_won_deal(self) -> float | None:
        return round(self.problems_traced / self.won_deals_involved, 2) if self.won_deals_involved else None

    @property
    def checkups_on_time_rate(self) -> float | None:
        return round(100 * self.checkups_on_time / self.checkups_due, 1) if self.checkups_due else None


@dataclass
class Performance:
    period: Period
    team: int | None
    rows: list[Scorecard]
    total: Scorecard | None  # None when the viewer sees only their own row


def _scope(*, members: list[int] | None, viewer: Any, person: Any) -> list[int] | None:
    """Whose figures may be counted: one person, the viewer alone (a rep or pre-sales
    consultant), a team, or everyone (None)."""
    if person is not None:
        return [person.pk]
    if not permissions.sees_everyone(viewer):
        return [viewer.pk] if permissions.has_scorecard(viewer) else []
    return members


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


def performance(*, period: Period, team: int | None, viewer: Any, person: Any = None) -> Performance:
    """The scorecards of the period, one per person, and the team total (see the module's
    docstring for each figure's definition). `person` limits it to one person's row."""
    permissions.require_scorecards(viewer)
    scope = _scope(members=team_member_ids(team) if person is None else None, viewer=viewer, person=person)
    now = timezone.now()
    won = Deal.objects.filter(period.q("closed_at"), stage=Deal.Stage.WON)
    made = Promise.objects.filter(period.q("made_at"))
    if scope is not None:
        won_in_scope, made_in_scope = won.filter(sold_by__in=scope), made.filter(made_by__in=scope)
    else:
        won_in_scope, made_in_scope = won, made
    # The two biggest figures come first: who sold or promised in the period gets a row.
    sales = list(won_in_scope.values("sold_by", "currency").annotate(n=Count("pk"), v=Sum("value")))
    promised = list(made_in_scope.values("made_by", "state").annotate(n=Count("pk")))
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
        for target in (rows[r["sold_by"]], total):
            target.deals_won += r["n"]
            target.won_value[r["currency"]] = target.won_value.get(r["currency"], Decimal("0.00")) + value

    state_field: dict[str, str] = {
        Promise.State.KEPT: "promises_kept", Promise.State.BROKEN: "promises_broken",
        Promise.State.RESET: "promises_reset", Promise.State.WITHDRAWN: "promises_withdrawn",
        Promise.State.ACTIVE: "promises_active",
    }
    for m in promised:
        for target in (rows[m["made_by"]], total):
            target.promises_made += m["n"]
            setattr(target, state_field[m["state"]], getattr(target, state_field[m["state"]]) + m["n"])

    traced = Problem.objects.filter(period.q("raised_at")).exclude(category=Problem.Category.CUSTOMER_CHANGE)
    links = Problem.promises.through.objects.filter(problem__in=traced, promise__made_by__in=ids)
    for t in links.values("promise__made_by").annotate(n=Count("problem", distinct=True)):
        rows[t["promise__made_by"]].problems_traced = t["n"]
    total.problems_traced = links.aggregate(n=Count("problem", distinct=True))["n"]

    # Deals won that a person sold, plus those they only made a promise on.
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

    sent_back = Activity.objects.filter(
        period.q("occurred_at"), event_type__in=["handover.returned", "handover.rejected"], deal__sold_by__in=ids
    )
    for e in sent_back.values("deal__sold_by", "event_type").annotate(n=Count("pk")):
        attr = "handovers_returned" if e["event_type"] == "handover.returned" else "handovers_rejected"
        for target in (rows[e["deal__sold_by"]], total):
            setattr(target, attr, getattr(target, attr) + e["n"])

    waits: dict[int, list[float]] = defaultdict(list)
    accepted = Handover.objects.filter(period.q("accepted_at"), state=Handover.State.ACCEPTED, deal__sold_by__in=ids)
    for seller, closed_at, accepted_at in accepted.values_list("deal__sold_by", "deal__closed_at", "accepted_at"):
        if closed_at is not None and accepted_at is not None:
            waits[seller].append(_days(accepted_at - closed_at))
    for pk, values in waits.items():
        rows[pk].median_days_won_to_accepted = _median(values)
    total.median_days_won_to_accepted = _median(v for values in waits.values() for v in values)

    _day30(period=period, rows=rows, total=total, ids=ids)

    window = timedelta(hours=ON_TIME_HOURS)
    judged = (
        Touchpoint.objects.filter(period.q("due_at"), owner__in=ids)
        .exclude(state=Touchpoint.State.CANCELLED)
        .filter(Q(closed_at__isnull=False) | Q(due_at__lte=now - window))
    )
    on_time = Q(state=Touchpoint.State.DONE, closed_at__lte=F("due_at") + window)
    for c in judged.values("owner").annotate(n=Count("pk"), ok=Count("pk", filter=on_time)):
        for target in (rows[c["owner"]], total):
            target.checkups_due += c["n"]
            target.checkups_on_time += c["ok"]

    ordered = [rows[p.pk] for p in people]
    return Performance(
        period=period, team=team, rows=ordered,
        total=total if permissions.sees_everyone(viewer) and person is None else None,
    )


def day30_touchpoints() -> Any:
    """The check-ups scheduled 30 days after acceptance (the 30-day agenda's review)."""
    steps = AgendaStep.objects.filter(anchor=AgendaStep.Anchor.ACCEPTED, offset_days=DAY30_OFFSET)
    return Touchpoint.objects.filter(step__in=steps, handover__isnull=False)


def _day30(*, period: Period, rows: dict[int, Scorecard], total: Scorecard, ids: list[int]) -> None:
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
        rows[pk].median_day30_satisfaction = _median(values)
        rows[pk].day30_answers = len(values)
    total.median_day30_satisfaction = _median(pooled)
    total.day30_answers = len(pooled)


# --- Trends and the person page ------------------------------------------------------------


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
    with its last month, so a short period still shows a trend): deals
    won, promises made (and, of those, kept and broken today), problems traced. For one person,
    their team, or everyone the viewer may see."""
    permissions.require_scorecards(viewer)
    spanned = (period.end.year - period.start.year) * 12 + period.end.month - period.start.month + 1
    months = _months(period.end, max(TREND_MONTHS, spanned))
    window = Period(start=months[0], end=period.end)
    if person is not None:
        ids: list[int] | None = [person.pk]
    elif not permissions.sees_everyone(viewer):
        ids = [viewer.pk]
    else:
        ids = team_member_ids(team)
    points = {m: MonthPoint(month=m) for m in months}

    def month_of(value: Any) -> date:
        return timezone.localtime(value).date() if isinstance(value, datetime) else value

    deals = Deal.objects.filter(window.q("closed_at"), stage=Deal.Stage.WON)
    promises = Promise.objects.filter(window.q("made_at"))
    problems = Problem.objects.filter(window.q("raised_at")).exclude(category=Problem.Category.CUSTOMER_CHANGE)
    if ids is not None:
        deals = deals.filter(sold_by__in=ids)
        promises = promises.filter(made_by__in=ids)
        problems = problems.filter(promises__made_by__in=ids)
    else:
        problems = problems.filter(promises__isnull=False)
    tz = timezone.get_current_timezone()
    # COUNT(*): the won-deals index (insights' migration 0001) answers it without reading the deals.
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


@dataclass
class PersonPage:
    person: Any
    scorecard: Scorecard
    deals: list[dict[str, Any]]
    promises: list[dict[str, Any]]
    problems: list[dict[str, Any]]
    trend: list[MonthPoint]


def person_page(*, period: Period, viewer: Any, person: Any) -> PersonPage:
    """One person's scorecard with what it is made of: the deals they sold or made a promise
    on, the promises they made and the problems traced to them, in the period (first
    LIST_LIMIT of each), and their monthly trend."""
    card = performance(period=period, team=None, viewer=viewer, person=person).rows
    scorecard = card[0] if card else Scorecard(person_id=person.pk, name=display_name(person))
    deals = [
        {
            "id": d.pk, "name": d.name, "account_id": d.account_id, "account": d.account.name, "value": d.value,
            "currency": d.currency, "closed_at": d.closed_at, "sold_by": display_name(d.sold_by),
            "part": "sold" if d.sold_by_id == person.pk else "promise",
        }
        for d in Deal.objects.filter(period.q("closed_at"), stage=Deal.Stage.WON)
        .filter(Q(sold_by=person) | Q(promises__made_by=person))
        .distinct()
        .select_related("account", "sold_by")
        .order_by("-closed_at", "-pk")[:LIST_LIMIT]
    ]
    promises = [
        {
            "id": p.pk, "description": p.description, "kind": p.get_kind_display(), "state": p.state,
            "state_label": p.get_state_display(), "made_at": p.made_at, "deal_id": p.deal_id, "deal": p.deal.name,
            "account_id": p.account_id, "account": p.account.name, "sold_by": display_name(p.deal.sold_by),
        }
        for p in Promise.objects.filter(period.q("made_at"), made_by=person)
        .select_related("deal__sold_by", "account")
        .order_by("-made_at", "-pk")[:LIST_LIMIT]
    ]
    problems = [
        {
            "id": p.pk, "title": p.title, "category": p.category, "category_label": p.get_category_display(),
            "severity": p.severity, "state": p.state, "raised_at": p.raised_at, "account_id": p.account_id,
            "account": p.account.name, "counted": p.category != Problem.Category.CUSTOMER_CHANGE,
        }
        for p in Problem.objects.filter(period.q("raised_at"), promises__made_by=person)
        .distinct()
        .select_related("account")
        .order_by("-raised_at", "-pk")[:LIST_LIMIT]
    ]
    return PersonPage(
        person=person, scorecard=scorecard, deals=deals, promises=promises, problems=problems,
        trend=trends(period=period, team=None, viewer=viewer, person=person),
    )


# --- Reassignment -----------------------------------------------------------------------------


@dataclass
class OwnerRow:
    owner_id: int
    name: str
    is_active: bool
    accounts: int


@dataclass
class AccountRow:
    account_id: int
    name: str
    owner_id: int
    owner: str
    owner_active: bool = True
    contacts: int | None = None
    vendor_people: int | None = None


@dataclass
class ChangeRow:
    changed_at: datetime
    account_id: int
    account: str
    from_user: str
    to_user: str
    reason: str
    reason_label: str
    note: str
    assigned_by: str


@dataclass
class Reassignment:
    period: Period
    team: int | None
    owners: list[OwnerRow]
    orphan_count: int
    orphan_owners: list[OwnerRow]
    orphans: list[AccountRow]
    single_threaded_count: int  # COUNT_CAP + 1 means "more than COUNT_CAP"
    single_threaded: list[AccountRow]
    changes_by_reason: dict[str, int]
    change_count: int
    changes: list[ChangeRow]

    @property
    def single_threaded_more(self) -> bool:
        """More single-threaded customers than were counted (the count stops past COUNT_CAP)."""
        return self.single_threaded_count > COUNT_CAP


def reassignment(*, period: Period, team: int | None, viewer: Any) -> Reassignment:
    """Accounts per owner; orphans (accounts whose owner is inactive: zero once every
    departure is handled); single-threaded customers (lifecycle customer, onboarding or active);
    ownership changes in the period (account creations aside) by reason, latest first."""
    permissions.require_dashboards(viewer)
    members = team_member_ids(team)
    accounts = Account.objects.all() if members is None else Account.objects.filter(owner__in=members)
    # COUNT(*) grouped by owner alone is an index-only scan of the owner index; names come after.
    counts = {r["owner"]: r["n"] for r in accounts.order_by().values("owner").annotate(n=Count("*"))}
    users = User.objects.filter(pk__in=list(counts)).only("first_name", "last_name", "username", "is_active")
    owners = [OwnerRow(u.pk, display_name(u), u.is_active, counts[u.pk]) for u in users]
    owners.sort(key=lambda o: (-o.accounts, o.name.lower(), o.owner_id))
    orphan_owners = [o for o in owners if not o.is_active]
    names = {o.owner_id: o.name for o in orphan_owners}
    orphans = [
        AccountRow(a.pk, a.name, a.owner_id, names[a.owner_id], owner_active=False)
        for a in Account.objects.filter(owner_id__in=list(names)).only("name", "owner_id").order_by("name", "pk")[
            :LIST_LIMIT
        ]
    ] if names else []
    customers = accounts.filter(single_threaded(), lifecycle__in=CUSTOMER_LIFECYCLES)
    single_accounts: list[Any] = list(
        customers.with_thread_counts().select_related("owner").order_by("name", "pk")[:LIST_LIMIT]
    )
    single = [
        AccountRow(a.pk, a.name, a.owner_id, display_name(a.owner), a.owner.is_active,
                   a.active_contact_count, a.vendor_people_count)
        for a in single_accounts
    ]
    # Counted up to COUNT_CAP, like the accounts list: each account costs two index lookups.
    single_count = len(single) if len(single) < LIST_LIMIT else customers.order_by()[:COUNT_CAP + 1].count()
    changes = OwnershipChange.objects.filter(period.q("changed_at")).exclude(reason=OwnershipChange.Reason.NEW)
    if members is not None:
        changes = changes.filter(Q(from_user__in=members) | Q(to_user__in=members))
    by_reason = {
        r["reason"]: r["n"] for r in changes.order_by().values("reason").annotate(n=Count("pk")).order_by("reason")
    }
    labels = dict(OwnershipChange.Reason.choices)
    change_rows = [
        ChangeRow(c.changed_at, c.account_id, c.account.name, display_name(c.from_user), display_name(c.to_user),
                  c.reason, labels[c.reason], c.note, display_name(c.assigned_by) if c.assigned_by_id else "")
        for c in changes.select_related("account", "from_user", "to_user", "assigned_by").order_by(
            "-changed_at", "-pk"
        )[:LIST_LIMIT]
    ]
    return Reassignment(
        period=period, team=team, owners=owners, orphan_count=sum(o.accounts for o in orphan_owners),
        orphan_owners=orphan_owners, orphans=orphans, single_threaded_count=single_count, single_threaded=single,
        changes_by_reason=by_reason, change_count=sum(by_reason.values()), changes=change_rows,
    )


def single_threaded() -> Q:
    """crm's single thread (at most one active customer contact, or at most one vendor person on
    the account team) as two NOT EXISTS: each stops at the first row that disproves it, where
    counting every account's contacts and team made PostgreSQL plan (and JIT-compile) a scan
    of the whole table. The owner is always on the team (crm's services keep an owner row), so
    "one vendor person" is "nobody on the team but the owner"."""
    second_contact = Contact.objects.filter(account=OuterRef("pk"), is_active=True).order_by()[1:2]
    someone_else = AccountTeamMember.objects.current().filter(account=OuterRef("pk")).exclude(user=OuterRef("owner"))
    return ~Exists(second_contact) | ~Exists(someone_else.order_by()[:1])


# --- Early-life risk --------------------------------------------------------------------------


@dataclass
class RiskReason:
    code: str
    label: str
    points: int


@dataclass
class RiskRow:
    account_id: int
    account: str
    owner: str
    accepted_at: datetime
    days_since_acceptance: int
    score: int
    reasons: list[RiskReason]


@dataclass
class Risk:
    as_of: datetime
    team: int | None
    rows: list[RiskRow]  # riskiest first; all of them, or the first few (see `top`)
    customers: int = 0  # customers in early life, whether or not `rows` lists them all
    at_risk: int = 0  # of those, how many score above zero

    def top(self, limit: int) -> Risk:
        """The same figures listing only the `limit` riskiest customers."""
        return replace(self, rows=self.rows[:limit])




def risk(*, period: Period, team: int | None, viewer: Any) -> Risk:
    """Customers in their first EARLY_LIFE_DAYS days after acceptance, ranked by the early-life
    risk score (the module's docstring defines it). As of now: `period` does not apply."""
    permissions.require_dashboards(viewer)
    now = timezone.now()
    since = now - timedelta(days=EARLY_LIFE_DAYS)
    members = team_member_ids(team)
    handovers = Handover.objects.filter(state=Handover.State.ACCEPTED, accepted_at__gte=since)
    if members is not None:
        handovers = handovers.filter(Q(deal__sold_by__in=members) | Q(account__owner__in=members))
    in_window = handovers.values("account")
    # One grouped read per figure over the accounts in the window (a few thousand at 100,000
    # accounts), combined below: correlated subqueries per account cost 0.5 s there.
    accounts: list[Any] = list(
        Account.objects.filter(pk__in=in_window).select_related("owner").only(
            "name", "owner__first_name", "owner__last_name", "owner__username"
        )
    )
    accepted = dict(
        Handover.objects.filter(account__in=in_window, state=Handover.State.ACCEPTED)
        .values("account").annotate(last=Max("accepted_at")).values_list("account", "last")
    )
    contacts = dict(
        Contact.objects.filter(account__in=in_window, is_active=True)
        .values("account").annotate(n=Count("pk")).values_list("account", "n")
    )
    people = dict(
        AccountTeamMember.objects.current().filter(account__in=in_window)
        .values("account").annotate(n=Count("user", distinct=True)).values_list("account", "n")
    )
    done: dict[int, tuple[Any, int, Any]] = {}  # account -> the latest (closed_at, pk, score)
    for account_id, closed_at, pk, score in Touchpoint.objects.filter(
        account__in=in_window, state=Touchpoint.State.DONE, satisfaction__isnull=False
    ).values_list("account", "closed_at", "pk", "satisfaction"):
        if account_id not in done or (closed_at, pk) > done[account_id][:2]:
            done[account_id] = (closed_at, pk, score)
    answered: dict[int, tuple[Any, int, Any]] = {}
    for account_id, created_at, pk, score in SurveyResponse.objects.filter(
        touchpoint__account__in=in_window
    ).values_list("touchpoint__account", "created_at", "pk", "satisfaction"):
        if account_id not in answered or (created_at, pk) > answered[account_id][:2]:
            answered[account_id] = (created_at, pk, score)
    for a in accounts:
        a.accepted = accepted[a.pk]
        a.active_contact_count, a.vendor_people_count = contacts.get(a.pk, 0), people.get(a.pk, 0)
        a.done_at, _, a.done_score = done.get(a.pk, (None, None, None))
        a.answer_at, _, a.answer_score = answered.get(a.pk, (None, None, None))
    overdue = {
        r["account"]: r["n"]
        for r in Touchpoint.objects.filter(account__in=in_window, due_at__gte=since)
        .filter(Q(state=Touchpoint.State.SCHEDULED, due_at__lt=now) | Q(state=Touchpoint.State.MISSED))
        .values("account").annotate(n=Count("pk"))
    }
    problems: dict[int, dict[str, int]] = defaultdict(dict)
    for r in Problem.objects.filter(account__in=in_window, state=Problem.State.OPEN).values(
        "account", "severity"
    ).annotate(n=Count("pk")):
        problems[r["account"]][r["severity"]] = r["n"]
    reminder_days = settings.KEEPWARM["SIGNOFF_REMINDER_DAYS"]
    waiting = {
        r["account"]: r["n"]
        for r in Stage.objects.filter(
            account__in=in_window, state=Stage.State.AWAITING_SIGNOFF,
            signoff_requested_at__lt=now - timedelta(days=reminder_days),
        ).values("account").annotate(n=Count("pk"))
    }
    rows = []
    for a in accounts:
        reasons = []
        if overdue.get(a.pk):
            n = overdue[a.pk]
            reasons.append(RiskReason(
                "overdue_checkups",
                ngettext("%(count)d overdue check-up", "%(count)d overdue check-ups", n) % {"count": n},
                n * OVERDUE_CHECKUP_POINTS,
            ))
        last = _last_score(a.done_score, a.done_at, a.answer_score, a.answer_at)
        if last is not None and SATISFACTION_POINTS.get(last):
            reasons.append(RiskReason("satisfaction", f"last satisfaction {last}/5", SATISFACTION_POINTS[last]))
        for severity in ("critical", "high", "medium", "low"):
            n = problems[a.pk].get(severity, 0)
            if n:
                reasons.append(RiskReason(
                    f"problems_{severity}",
                    ngettext("%(count)d open %(severity)s problem", "%(count)d open %(severity)s problems", n)
                    % {"count": n, "severity": severity},
                    n * PROBLEM_POINTS[severity],
                ))
        if waiting.get(a.pk):
            n = waiting[a.pk]
            reasons.append(RiskReason(
                "signoff_waiting",
                ngettext("%(count)d stage awaiting sign-off", "%(count)d stages awaiting sign-off", n) % {"count": n}
                + ngettext(" over %(days)d day", " over %(days)d days", reminder_days) % {"days": reminder_days},
                n * SIGNOFF_WAIT_POINTS,
            ))
        if a.is_single_threaded:
            reasons.append(RiskReason("single_thread", "single-threaded", SINGLE_THREAD_POINTS))
        rows.append(RiskRow(
            account_id=a.pk, account=a.name, owner=display_name(a.owner), accepted_at=a.accepted,
            days_since_acceptance=(now - a.accepted).days, score=sum(r.points for r in reasons), reasons=reasons,
        ))
    rows.sort(key=lambda r: (-r.score, r.account.lower(), r.account_id))
    return Risk(as_of=now, team=team, rows=rows, customers=len(rows), at_risk=sum(1 for r in rows if r.score))


def _last_score(done_score: int | None, done_at: datetime | None, answer_score: int | None,
                answer_at: datetime | None) -> int | None:
    """The last satisfaction heard: the customer's survey answer or the recorded check-up score."""
    if answer_at is not None and (done_at is None or answer_at >= done_at):
        return answer_score
    return done_score


# --- Delivery ---------------------------------------------------------------------------------


@dataclass
class WaitingHandover:
    handover_id: int
    account_id: int
    account: str
    deal: str
    rep: str
    approved_at: datetime | None
    accept_deadline: datetime | None
    hours_left: float | None

    @property
    def overdue(self) -> bool:
        return self.hours_left is not None and self.hours_left < 0


@dataclass
class StageRow:
    position: int
    name: str
    projects: int
    awaiting_signoff: int


@dataclass
class CategoryRow:
    category: str
    label: str
    raised: int
    open: int
    resolved: int
    median_hours_to_resolve: float | None


@dataclass
class DeliveryBoard:
    period: Period
    team: int | None
    waiting: list[WaitingHandover]
    active_projects: int
    completed_in_period: int
    projects_by_stage: list[StageRow]
    problems_by_category: list[CategoryRow]


def delivery(*, period: Period, team: int | None, viewer: Any) -> DeliveryBoard:
    """Handovers waiting for delivery's acceptance (soonest deadline first), active projects by
    their current stage (the first stage not signed off or done), and problems raised in the
    period by category with the median time to resolve those since resolved."""
    permissions.require_dashboards(viewer)
    now = timezone.now()
    members = team_member_ids(team)
    handovers = Handover.objects.filter(state=Handover.State.SALES_APPROVED)
    projects = Project.objects.all()
    problems = Problem.objects.filter(period.q("raised_at"))
    if members is not None:
        handovers = handovers.filter(Q(rep__in=members) | Q(deal__sold_by__in=members))
        projects = projects.filter(owner__in=members)
        problems = problems.filter(Q(project__owner__in=members) | Q(account__owner__in=members))
    waiting = [
        WaitingHandover(
            h.pk, h.account_id, h.account.name, h.deal.name, display_name(h.rep), h.approved_at, h.accept_deadline,
            round((h.accept_deadline - now).total_seconds() / 3600, 1) if h.accept_deadline else None,
        )
        for h in handovers.select_related("account", "deal", "rep").order_by("accept_deadline", "pk")[:LIST_LIMIT]
    ]
    counts = projects.order_by().aggregate(
        active=Count("pk", filter=Q(state=Project.State.ACTIVE)),
        completed=Count("pk", filter=period.q("completed_at") & Q(state=Project.State.COMPLETE)),
    )
    current = Stage.objects.filter(project=OuterRef("pk")).exclude(state__in=Stage.FINAL_STATES).order_by("position")
    stages: dict[tuple[int, str], StageRow] = {}
    for r in (
        projects.filter(state=Project.State.ACTIVE)
        .annotate(
            stage_name=Subquery(current.values("name")[:1]),
            stage_position=Subquery(current.values("position")[:1]),
            stage_state=Subquery(current.values("state")[:1]),
        )
        .order_by()
        .values("stage_position", "stage_name", "stage_state")
        .annotate(n=Count("pk"))
    ):
        key = (r["stage_position"] or 0, r["stage_name"] or "All stages finished")
        row = stages.setdefault(key, StageRow(key[0], key[1], 0, 0))
        row.projects += r["n"]
        if r["stage_state"] == Stage.State.AWAITING_SIGNOFF:
            row.awaiting_signoff += r["n"]
    counted: dict[str, Any] = {
        r["category"]: r
        for r in problems.order_by().values("category").annotate(
            n=Count("pk"), open=Count("pk", filter=Q(state=Problem.State.OPEN))
        )
    }
    hours: dict[str, list[float]] = defaultdict(list)
    for category, raised_at, resolved_at in problems.filter(resolved_at__isnull=False).values_list(
        "category", "raised_at", "resolved_at"
    ):
        if resolved_at is not None:
            hours[category].append((resolved_at - raised_at).total_seconds() / 3600)
    categories = [
        CategoryRow(
            value, label, counted.get(value, {}).get("n", 0), counted.get(value, {}).get("open", 0),
            len(hours[value]), _median(hours[value]),
        )
        for value, label in Problem.Category.choices
    ]
    return DeliveryBoard(
        period=period, team=team, waiting=waiting, active_projects=counts["active"],
        completed_in_period=counts["completed"], projects_by_stage=[stages[k] for k in sorted(stages)],
        problems_by_category=categories,
    )
