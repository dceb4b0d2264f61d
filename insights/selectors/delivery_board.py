"""The delivery dashboard: what waits for delivery today, where the active projects stand, and
the problems raised in the period.

- handovers waiting: approved by sales, not yet accepted or sent back, soonest deadline first;
  with a team filter, those whose rep or seller is on the team;
- projects by stage: active projects by their current stage (the first stage not signed off or
  done), and how many of those stages await the customer's sign-off;
- completed in the period: projects completed in the period;
- problems by category: problems raised in the period, still open, and resolved since, with the
  median hours from raised to resolved of those resolved.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, OuterRef, Q, Subquery
from django.utils import timezone

from delivery.models import Problem, Project, Stage
from handover.models import Handover
from insights import permissions
from insights.selectors.shared import LIST_LIMIT, Period, display_name, median, team_member_ids


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
            len(hours[value]), median(hours[value]),
        )
        for value, label in Problem.Category.choices
    ]
    return DeliveryBoard(
        period=period, team=team, waiting=waiting, active_projects=counts["active"],
        completed_in_period=counts["completed"], projects_by_stage=[stages[k] for k in sorted(stages)],
        problems_by_category=categories,
    )
