"""Read-side queries for the delivery pages: a fixed number of queries, whatever the data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db.models import Case, Count, F, IntegerField, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.names import person_name
from crm.models import Account, Contact
from customer_links.models import CustomerLink
from delivery import permissions
from delivery.forms import PortalLinkForm, portal_contacts
from delivery.models import Problem, Project, Stage


def _stage_count(**filters: Any) -> Any:
    stages = (
        Stage.objects.filter(project=OuterRef("pk"), **filters)
        .order_by()
        .values("project")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(stages, output_field=IntegerField()), 0)


def with_progress(projects: QuerySet[Project]) -> QuerySet[Project]:
    """Each project with its stages done/total, the stages awaiting sign-off, the next stage to
    finish (first unfinished by position) and its due date, and its open problems: subqueries
    in the one list query, so the cost does not grow with the number of projects shown."""
    unfinished = Stage.objects.filter(project=OuterRef("pk")).exclude(state__in=Stage.FINAL_STATES).order_by("position")
    open_problems = (
        Problem.objects.filter(project=OuterRef("pk"), state=Problem.State.OPEN)
        .order_by()
        .values("project")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return projects.annotate(
        stage_total=_stage_count(),
        stage_done=_stage_count(state__in=Stage.FINAL_STATES),
        stage_awaiting=_stage_count(state=Stage.State.AWAITING_SIGNOFF),
        next_stage=Subquery(unfinished.values("name")[:1]),
        next_due=Subquery(unfinished.values("due_date")[:1]),
        open_problems=Coalesce(Subquery(open_problems, output_field=IntegerField()), 0),
    )


def active_first(projects: QuerySet[Project]) -> QuerySet[Project]:
    """Active projects first, then the soonest next due date (call after `with_progress`)."""
    active = Case(When(state=Project.State.ACTIVE, then=Value(0)), default=Value(1), output_field=IntegerField())
    return projects.order_by(active, F("next_due").asc(nulls_last=True), "-started_at", "-pk")


def problem_list(
    *, user: Any, q: str = "", state: str = "", severity: str = "", category: str = "", source: str = "",
    owner: Any = None, account: int | None = None,
) -> QuerySet[Problem]:
    """The problems list (and its CSV export): the problems the user may see, filtered, newest
    first."""
    problems = Problem.objects.visible_to(user).select_related(
        "account", "account__owner", "project__deal", "raised_by"
    )
    choices = {"state": state, "severity": severity, "category": category, "source": source}
    problems = problems.filter(**{name: value for name, value in choices.items() if value})
    if q:
        problems = problems.filter(account__name__icontains=q)
    if owner is not None:
        problems = problems.filter(account__owner=owner)
    if account:
        problems = problems.filter(account_id=account)
    return problems.order_by("-raised_at", "-pk")


@dataclass
class AccountProject:
    """A project as the account page's Delivery section shows it: `with_progress`'s stage
    figures (not its open problems), with the deal's name and the owner's."""

    pk: int
    state: str
    started_at: datetime
    deal_name: str
    owner_name: str
    stage_total: int = 0
    stage_done: int = 0
    stage_awaiting: int = 0
    next_stage: str | None = None
    next_due: date | None = None
    overdue: bool = False

    def get_state_display(self) -> str:
        return str(Project.State(self.state).label)


def account_projects(account: Account) -> list[AccountProject]:
    """One account's few projects with their progress, in `active_first`'s order, from one query:
    each project joined to its stages (a project without stages still gives one row), counted
    in Python. For a handful of projects that is cheaper than building the six subqueries of
    `with_progress`, and one query fewer than reading the stages apart. A test holds this and my
    deliveries to the same figures and order."""
    projects: dict[int, AccountProject] = {}
    rows = (
        Project.objects.filter(account=account)
        .order_by("pk", "stages__position")
        .values_list(
            "pk", "state", "started_at", "deal__name", "owner__first_name", "owner__last_name", "owner__username",
            "stages__pk", "stages__state", "stages__name", "stages__due_date",
        )
    )
    for pk, state, started_at, deal_name, first, last, username, stage_pk, stage_state, name, due in rows:
        project = projects.get(pk)
        if project is None:
            owner_name = person_name(first, last, username)
            project = projects[pk] = AccountProject(pk, state, started_at, deal_name, owner_name)
        if stage_pk is None:
            continue
        project.stage_total += 1
        project.stage_awaiting += stage_state == Stage.State.AWAITING_SIGNOFF
        if stage_state in Stage.FINAL_STATES:
            project.stage_done += 1
        elif project.next_stage is None:  # the first unfinished stage by position
            project.next_stage, project.next_due = name, due
    # active_first: active projects, then the soonest next due date (none last), then the
    # latest started; Python's sort is stable, so the last key is sorted first.
    ordered = sorted(projects.values(), key=lambda p: (p.started_at, p.pk), reverse=True)
    return sorted(
        ordered, key=lambda p: (p.state != Project.State.ACTIVE, p.next_due is None, p.next_due or date.min)
    )


def mark_overdue(projects: list[Any]) -> None:
    today = timezone.localdate()
    for project in projects:
        due = getattr(project, "next_due", None)
        project.overdue = bool(due and due < today and project.state == Project.State.ACTIVE)  # type: ignore[attr-defined]


def latest_link(purpose: str, target: str) -> CustomerLink | None:
    return CustomerLink.objects.filter(purpose=purpose, target=target).select_related("contact").first()


def link_status(link: CustomerLink | None) -> str:
    """What the last link can still do: live, used, revoked or expired ("" for none)."""
    if link is None:
        return ""
    if link.revoked_at:
        return "revoked"
    if link.used_at:
        return "used"
    if link.expires_at <= timezone.now():
        return "expired"
    return "live"


def can_send_portal_link(user: Any, account: Account, *, can_raise: bool | None = None) -> bool:
    """The account owner and the account team (the rule portal_link_issue applies); pass
    `can_raise` when it is already known, to save its query."""
    if user.pk == account.owner_id:
        return True
    return permissions.can_raise_problem(user, account) if can_raise is None else can_raise


def account_section(*, account: Account, user: Any, contacts: list[Contact] | None = None) -> dict[str, Any] | None:
    """The account page's "Delivery" section: the account's projects with their progress, its
    open problems and the customer portal link: five queries at most, whatever the history, four
    when the page passes the account's `contacts` it has read (two for a prospect with no
    delivery and no problem, which gets no section; one more for a prospect that has a project,
    which only editing the lifecycle by hand leaves)."""
    projects: list[AccountProject] = []
    # Accepting a handover makes the account a customer in onboarding, so a prospect has a
    # project only if its lifecycle was set back by hand: for a prospect, a plain EXISTS asks
    # before the projects and their stages are read.
    if account.lifecycle != Account.Lifecycle.PROSPECT or Project.objects.filter(account=account).exists():
        projects = account_projects(account)
    mark_overdue(projects)
    problems = list(
        Problem.objects.filter(account=account, state=Problem.State.OPEN).order_by("-raised_at", "-pk")[:10]
    )
    if not projects and not problems and account.lifecycle == Account.Lifecycle.PROSPECT:
        return None
    # The owner is on the account team (crm keeps them there): no query to ask.
    can_raise = user.pk == account.owner_id or permissions.can_raise_problem(user, account)
    portal: dict[str, Any] | None = None
    if projects and can_send_portal_link(user, account, can_raise=can_raise):
        link = latest_link(CustomerLink.Purpose.PORTAL, CustomerLink.target_of(account))
        portal = {
            "form": PortalLinkForm(contacts=portal_contacts(account.pk, contacts)),
            "link": link,
            "status": link_status(link),
        }
    return {
        "title": "Delivery",
        "template": "delivery/_account_section.html",
        "context": {
            "account": account,
            "projects": projects,
            "problems": problems,
            "can_raise": can_raise,
            "portal": portal,
        },
    }
