"""Demo deliveries: the projects started by the demo's accepted handovers, moved along.

Everything goes through delivery.services, as in real use: stages are started, sign-off is
requested from a contact with the stage's role, and the customer answers through the link the
request returned (signed off, or changes requested with a reason). Problems are raised on the
deals' promises and some resolved. Runs once per fresh database: seed_demo calls it only when
it has just created the demo accounts, and this adds nothing when demo sign-offs or problems are
already there.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlparse

from django.utils import timezone
from django.utils.translation import ngettext

from crm import services as crm_services
from crm.models import Activity, Contact
from customer_links.models import CustomerLink
from delivery import services
from delivery.models import Problem, Project, SignOff, Stage
from demo.story.clock import DemoClock, spread
from flows import actions as flows
from handover.models import Promise

# What the delivery services stamp "now" (the clock dates each step when it happened).
STAMPED: list[tuple[Any, str]] = [
    (Stage, "started_at"), (Stage, "signoff_requested_at"), (Stage, "signed_off_at"), (Stage, "done_at"),
    (SignOff, "created_at"), (CustomerLink, "created_at"), (Contact, "created_at"), (Project, "completed_at"),
    (Promise, "outcome_at"), (Problem, "raised_at"), (Problem, "resolved_at"), (Problem, "closed_at"),
    (Activity, "occurred_at"), (Activity, "created_at"),
]
CLOCK = DemoClock(STAMPED)

# How far each demo project gets, in turn: stages finished (signed off by the customer, or done
# by the delivery owner where the customer does not sign), then what happens to the next stage.
SCENARIOS: list[tuple[int, str | None]] = [
    (2, "awaiting"),  # two stages signed off, the third waiting for the customer
    (1, "changes"),  # the customer asked for changes to the second stage
    (1, "started"),  # one stage signed off, the next in progress
    (99, None),  # every stage finished: the delivery is complete
]

DELIVERED = {
    "Kickoff": "Kickoff workshop held on site; project plan, milestones and contacts agreed and minuted.",
    "Installation": "Platform installed on the customer's servers; single sign-on and backups configured and tested.",
    "Data migration": "Customer, order and price data migrated; totals reconciled against the old system.",
    "Training": "Two training days for 12 key users and 2 administrators, on the customer's own data.",
    "Go-live": "Production cut-over completed; hypercare support running for the first four weeks.",
    "Delivered": "All equipment delivered on site and checked against the order; delivery note signed.",
    "Installed": "Equipment installed, connected to the network and tested with the site team.",
    "Trained": "Operators trained on every shift; handbooks handed over to the site supervisor.",
}
# Who a customer names to sign when it has nobody with the stage's role yet.
SIGNER_NAMES = [
    ("Ruth", "Adeyemi"), ("Karl", "Lindgren"), ("Ines", "Carvalho"), ("Owen", "Gallagher"), ("Mira", "Hofer"),
]
SIGNER_TITLES: dict[str, str] = {
    Contact.Role.DECISION_MAKER: "Managing Director",
    Contact.Role.TECHNICAL: "IT Manager",
    Contact.Role.CHAMPION: "Project Lead",
    Contact.Role.USER: "Site Supervisor",
}
CHANGES = (
    "The migrated price lists are missing last year's customer-specific discounts; please re-run the import "
    "before we sign."
)
USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
]

# category, severity, title, description, resolution ("" stays open), closed afterwards
PROBLEMS: list[tuple[str, str, str, str, str, bool]] = [
    (
        Problem.Category.OVERSOLD, Problem.Severity.HIGH, "SAP connector needs a paid middleware licence",
        "The integration was presented as working out of the box; their SAP version needs the middleware "
        "add-on, which is not in the order.",
        "", False,
    ),
    (
        Problem.Category.DELIVERY_DEFECT, Problem.Severity.MEDIUM, "Two devices configured for the wrong site",
        "Two of the devices were set up for the Rotterdam warehouse instead of the main plant.",
        "Reconfigured on site and checked with the site supervisor.", False,
    ),
    (
        Problem.Category.CUSTOMER_CHANGE, Problem.Severity.LOW, "Customer moved go-live after a site move",
        "Their new building is not ready; they asked to move go-live by three weeks.",
        "", False,
    ),
    (
        Problem.Category.MISUNDERSTOOD, Problem.Severity.MEDIUM, "Training seats: trainers versus trainees",
        "The customer understood 'training for 12' as 12 internal trainers to be certified, not 12 users.",
        "Agreed one train-the-trainer session for 3 people at no charge; documented with the customer.", True,
    ),
    (
        Problem.Category.PRODUCT_DEFECT, Problem.Severity.CRITICAL, "Order export stops at 10,000 rows",
        "The nightly export to their ERP stops at 10,000 orders; the plant runs on the morning's manual lists.",
        "", False,
    ),
]


def _signer(stage: Stage, *, owner: Any, rng: random.Random, stdout: Any) -> Contact:
    """A contact who may sign `stage`. When the account has none with the stage's role, the
    customer names one at the kickoff and the delivery owner records them, as in real use."""
    choices = list(services.signer_choices(stage).order_by("pk"))
    if choices:
        return rng.choice(choices)
    taken = set(stage.account.contacts.values_list("first_name", "last_name"))
    first, last = rng.choice([name for name in SIGNER_NAMES if name not in taken] or SIGNER_NAMES)
    domain = urlparse(stage.account.website).hostname or "example.com"
    contact = crm_services.contact_create(
        account=stage.account, by=owner, first_name=first, last_name=last, role=stage.signer_role,
        title=SIGNER_TITLES.get(stage.signer_role, ""),
        email=f"{first.lower()}.{last.lower()}@{domain.removeprefix('www.')}",
    )
    stdout.write(f"    {stage.account.name} named {contact.full_name} ({contact.get_role_display()}) to sign.")
    return contact


def _ask(stage: Stage, *, owner: Any, rng: random.Random, stdout: Any) -> CustomerLink:
    """Asks the customer to sign `stage` off (started); returns the emailed link."""
    return services.stage_request_signoff(
        stage=stage, by=owner, contact=_signer(stage, owner=owner, rng=rng, stdout=stdout),
        delivered=DELIVERED.get(stage.name, f"{stage.name} completed as planned."),
    )


def _finish(
    stage: Stage, *, owner: Any, rng: random.Random, stdout: Any, moments: Iterator[datetime], signed_off: bool = True
) -> None:
    """Starts `stage` and takes it to its end: done by the owner where the customer does not
    sign, otherwise the customer's answer through the link (signed off, or changes requested)."""
    with CLOCK.at(next(moments)):
        stage = services.stage_start(stage=stage, by=owner)
    if not stage.needs_signoff:
        with CLOCK.at(next(moments)):
            flows.stage_complete(stage=stage, by=owner)
        return
    with CLOCK.at(next(moments)):
        link = _ask(stage, owner=owner, rng=rng, stdout=stdout)
    with CLOCK.at(next(moments)):
        flows.customer_answer(
            link=link, signed_off=signed_off, typed_name=link.contact.full_name if link.contact else "Customer",
            reason="" if signed_off else CHANGES, ip=f"192.0.2.{rng.randint(10, 250)}",
            user_agent=rng.choice(USER_AGENTS),
        )


def _move_along(
    project: Project, scenario: tuple[int, str | None], rng: random.Random, stdout: Any, now: datetime
) -> str:
    """The project's stages, each step dated between its start (the acceptance) and now."""
    finished, then = scenario
    owner = project.owner
    stages = list(project.stages.order_by("position"))
    moments = iter(spread(project.started_at, now - timedelta(minutes=30), 3 * len(stages) + 2))
    for stage in stages[:finished]:
        _finish(stage, owner=owner, rng=rng, stdout=stdout, moments=moments)
    done = min(finished, len(stages))
    if done == len(stages):
        return f"all {done} stages finished, delivery complete"
    following = stages[done]
    if then == "awaiting" and following.needs_signoff:
        with CLOCK.at(next(moments)):
            following = services.stage_start(stage=following, by=owner)
        with CLOCK.at(next(moments)):
            _ask(following, owner=owner, rng=rng, stdout=stdout)
        return f"{_stages_finished(done)}; {following.name} awaiting sign-off"
    if then == "changes" and following.needs_signoff:
        _finish(following, owner=owner, rng=rng, stdout=stdout, moments=moments, signed_off=False)
        return f"{_stages_finished(done)}; the customer asked for changes to {following.name}"
    with CLOCK.at(next(moments)):
        services.stage_start(stage=following, by=owner)
    return f"{_stages_finished(done)}; {following.name} in progress"


def _stages_finished(done: int) -> str:
    return ngettext("%(count)d stage finished", "%(count)d stages finished", done) % {"count": done}


def _raise_problems(projects: list[Project], rng: random.Random, stdout: Any, now: datetime) -> None:
    """Problems on the oldest deliveries, raised some days in, resolved hours to days later."""
    raised = resolved = 0
    oldest_first = sorted(projects, key=lambda p: (p.started_at, p.pk))
    for index, (category, severity, title, description, resolution, close) in enumerate(PROBLEMS):
        project = oldest_first[index % len(oldest_first)]
        running = now - project.started_at
        raised_at = project.started_at + running * rng.uniform(0.2, 0.5)
        resolved_at = min(raised_at + timedelta(hours=rng.randint(3, 72)), now - timedelta(minutes=30))
        closed_at = min(resolved_at + timedelta(hours=rng.randint(2, 24)), now - timedelta(minutes=10))
        promises = list(project.deal.promises.order_by("pk"))
        customer_raised = category == Problem.Category.DELIVERY_DEFECT
        contact = project.account.contacts.filter(is_active=True).order_by("pk").first()
        caller = contact.full_name if contact else "The customer"
        with CLOCK.at(raised_at):
            problem = services.problem_raise(
                account=project.account, project=project, title=title, description=description,
                category=category, severity=severity, promises=rng.sample(promises, k=1) if promises else [],
                by=None if customer_raised else project.owner,
                source=Problem.Source.CUSTOMER if customer_raised else Problem.Source.STAFF,
                raised_by_label=f"{caller} (by phone)" if customer_raised else "",
            )
        raised += 1
        if resolution:
            with CLOCK.at(resolved_at):
                problem = services.problem_resolve(problem=problem, by=project.owner, resolution=resolution)
            resolved += 1
            if close:
                with CLOCK.at(closed_at):
                    services.problem_close(problem=problem, by=project.owner)
    stdout.write(f"  Problems: {raised} raised on promises, {resolved} resolved.")


def seed_deliveries(*, users: dict[str, Any], rng: random.Random, now: datetime, stdout: Any) -> None:
    projects = list(Project.objects.select_related("account", "deal", "owner", "handover").order_by("pk"))
    if not projects:
        stdout.write("Deliveries: no accepted handovers, so no projects to move along.")
        return
    if SignOff.objects.exists() or Problem.objects.exists():
        stdout.write("Deliveries: demo progress already present; nothing changed.")
        return
    count = len(projects)
    stdout.write(
        ngettext("Deliveries: %(count)d project", "Deliveries: %(count)d projects", count) % {"count": count}
        + "; starting stages and asking customers to sign off..."
    )
    now = max(now, timezone.now())  # seed_demo's clock is rounded down to the hour
    for index, project in enumerate(projects):
        # The project started when its handover was accepted (the handover demo dated that).
        Project.objects.filter(pk=project.pk).update(started_at=project.handover.accepted_at)
        project.refresh_from_db(fields=["started_at"])
        summary = _move_along(project, SCENARIOS[index % len(SCENARIOS)], rng, stdout, now)
        stdout.write(f"  {project.deal.name} ({project.account.name}): {summary}.")
    _raise_problems(projects, rng, stdout, now)
