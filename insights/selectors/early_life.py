"""The early-life risk dashboard: customers whose handover was accepted in the last
EARLY_LIFE_DAYS days, as of now (the period does not apply: it is today's picture), ranked by
their early-life risk score, each with the reasons that make it up.

The score is `early_life_score()`, a pure function of one account's `RiskInputs`; `risk()` reads
those inputs for every account in the window with one grouped query per input.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Max, Q
from django.utils import timezone
from django.utils.translation import ngettext

from crm.models import Account, AccountTeamMember, Contact
from delivery.models import Problem, Stage
from handover.models import Handover
from insights import permissions
from insights.selectors.shared import Period, display_name, team_member_ids
from touchpoints.models import SurveyResponse, Touchpoint

EARLY_LIFE_DAYS = 90
OVERDUE_CHECKUP_POINTS = 3
SATISFACTION_POINTS = {1: 10, 2: 6, 3: 2}  # 4 or 5 out of 5: nothing
PROBLEM_POINTS = {"critical": 8, "high": 5, "medium": 2, "low": 1}
SIGNOFF_WAIT_POINTS = 3
SINGLE_THREAD_POINTS = 4


@dataclass
class RiskReason:
    code: str
    label: str
    points: int


@dataclass(frozen=True)
class RiskInputs:
    """What one account's early-life risk score is made of."""

    # Check-ups due since the start of the early-life window, scheduled and past due, or missed.
    overdue_checkups: int = 0
    # The last satisfaction score heard (see `last_satisfaction`), 1 to 5; None: nothing heard.
    last_satisfaction: int | None = None
    # Open problems by severity (critical, high, medium, low).
    open_problems: Mapping[str, int] = field(default_factory=dict)
    # Stages awaiting the customer's sign-off for longer than the sign-off reminder delay.
    stages_waiting_signoff: int = 0
    # At most one active customer contact, or at most one vendor person on the account team.
    single_threaded: bool = False


def early_life_score(inputs: RiskInputs, *, signoff_reminder_days: int) -> tuple[int, list[RiskReason]]:
    """The early-life risk score and its reasons, the score being the sum of:
    - OVERDUE_CHECKUP_POINTS per overdue check-up;
    - SATISFACTION_POINTS for the last satisfaction heard: 1/5 -> 10, 2/5 -> 6, 3/5 -> 2, 4 or 5 -> 0;
    - PROBLEM_POINTS per open problem by severity: critical 8, high 5, medium 2, low 1;
    - SIGNOFF_WAIT_POINTS per stage awaiting sign-off for longer than `signoff_reminder_days`
      (settings.KEEPWARM["SIGNOFF_REMINDER_DAYS"]: the point where the signer gets a reminder);
    - SINGLE_THREAD_POINTS when the account is single-threaded.
    No reason is listed for what scores nothing."""
    reasons = []
    if n := inputs.overdue_checkups:
        reasons.append(RiskReason(
            "overdue_checkups",
            ngettext("%(count)d overdue check-up", "%(count)d overdue check-ups", n) % {"count": n},
            n * OVERDUE_CHECKUP_POINTS,
        ))
    last = inputs.last_satisfaction
    if last is not None and SATISFACTION_POINTS.get(last):
        reasons.append(RiskReason("satisfaction", f"last satisfaction {last}/5", SATISFACTION_POINTS[last]))
    for severity in ("critical", "high", "medium", "low"):
        if n := inputs.open_problems.get(severity, 0):
            reasons.append(RiskReason(
                f"problems_{severity}",
                ngettext("%(count)d open %(severity)s problem", "%(count)d open %(severity)s problems", n)
                % {"count": n, "severity": severity},
                n * PROBLEM_POINTS[severity],
            ))
    if n := inputs.stages_waiting_signoff:
        days = signoff_reminder_days
        reasons.append(RiskReason(
            "signoff_waiting",
            ngettext("%(count)d stage awaiting sign-off", "%(count)d stages awaiting sign-off", n) % {"count": n}
            + ngettext(" over %(days)d day", " over %(days)d days", days) % {"days": days},
            n * SIGNOFF_WAIT_POINTS,
        ))
    if inputs.single_threaded:
        reasons.append(RiskReason("single_thread", "single-threaded", SINGLE_THREAD_POINTS))
    return sum(r.points for r in reasons), reasons


def last_satisfaction(done_score: int | None, done_at: datetime | None, answer_score: int | None,
                      answer_at: datetime | None) -> int | None:
    """The last satisfaction heard: the customer's survey answer or the score recorded at a
    check-up, whichever came last (the answer when both came at the same moment)."""
    if answer_at is not None and (done_at is None or answer_at >= done_at):
        return answer_score
    return done_score


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


def _latest(rows: Any) -> dict[int, tuple[Any, int, Any]]:
    """Per account, the latest (moment, pk, score) of (account, moment, pk, score) rows."""
    latest: dict[int, tuple[Any, int, Any]] = {}
    for account_id, moment, pk, score in rows:
        if account_id not in latest or (moment, pk) > latest[account_id][:2]:
            latest[account_id] = (moment, pk, score)
    return latest


def risk(*, period: Period, team: int | None, viewer: Any) -> Risk:
    """Customers in early life, riskiest first, then by name. With a team filter, those whose
    seller or current owner is on the team. `period` does not apply (as of now)."""
    permissions.require_dashboards(viewer)
    now = timezone.now()
    since = now - timedelta(days=EARLY_LIFE_DAYS)
    members = team_member_ids(team)
    handovers = Handover.objects.filter(state=Handover.State.ACCEPTED, accepted_at__gte=since)
    if members is not None:
        handovers = handovers.filter(Q(deal__sold_by__in=members) | Q(account__owner__in=members))
    in_window = handovers.values("account")
    # One grouped read per input over every account in the window, combined in Python: a
    # correlated subquery per account grows with the window.
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
    done = _latest(Touchpoint.objects.filter(
        account__in=in_window, state=Touchpoint.State.DONE, satisfaction__isnull=False
    ).values_list("account", "closed_at", "pk", "satisfaction"))
    answered = _latest(SurveyResponse.objects.filter(
        touchpoint__account__in=in_window
    ).values_list("touchpoint__account", "created_at", "pk", "satisfaction"))
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
        a.active_contact_count, a.vendor_people_count = contacts.get(a.pk, 0), people.get(a.pk, 0)
        done_at, _, done_score = done.get(a.pk, (None, None, None))
        answer_at, _, answer_score = answered.get(a.pk, (None, None, None))
        score, reasons = early_life_score(RiskInputs(
            overdue_checkups=overdue.get(a.pk, 0),
            last_satisfaction=last_satisfaction(done_score, done_at, answer_score, answer_at),
            open_problems=problems[a.pk],
            stages_waiting_signoff=waiting.get(a.pk, 0),
            single_threaded=a.is_single_threaded,
        ), signoff_reminder_days=reminder_days)
        rows.append(RiskRow(
            account_id=a.pk, account=a.name, owner=display_name(a.owner), accepted_at=accepted[a.pk],
            days_since_acceptance=(now - accepted[a.pk]).days, score=score, reasons=reasons,
        ))
    rows.sort(key=lambda r: (-r.score, r.account.lower(), r.account_id))
    return Risk(as_of=now, team=team, rows=rows, customers=len(rows), at_risk=sum(1 for r in rows if r.score))
