"""Bench deliveries for `manage.py seed_scale` (after the handover part).

Every accepted bench handover without a project gets one, on a plan template from the database
(the default plan most often), with its stages copied from the plan and due dates following one
another from acceptance, as `project_start` makes them. The project is then played forward from
acceptance to now as the services would have recorded it: each stage is started by the delivery
owner, done by them where the customer does not sign, otherwise sent for sign-off through a
customer link and answered by the customer (signed off, or changes requested and then signed
off). Most customers answer within days; a few take more than the reminder's
SIGNOFF_REMINDER_DAYS. A stage whose next step lies after now stays where it is, and the stages
after it are planned. When every stage is final the project is complete, the account an active
customer, and the promises still open and undisputed are kept.

Problems are raised along the way, most naming one of the deal's promises (which breaks it,
except for a customer-side change), some naming none; most are resolved within hours or days,
some closed. A customer with no contact for a stage's signer role names one (a new contact), as
in the demo. No outbox rows (see demo.scale.handover).

Runs after handover's part (it reads the accepted handovers) and before touchpoints' (which reads
the projects): seed_scale calls them in that order.
"""

from __future__ import annotations

import math
import random
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from crm.models import Account, Activity, Contact
from customer_links.models import CustomerLink
from delivery.events import completed_subject
from delivery.models import PlanTemplate, Problem, Project, SignOff, Stage
from demo.scale import bulk
from demo.story.delivery import CHANGES, DELIVERED, PROBLEMS, SIGNER_NAMES, SIGNER_TITLES, USER_AGENTS
from handover.models import Handover, Promise

ROWS: list[Any] = [
    Contact, Project, Stage, Stage.promises.through, CustomerLink, SignOff, Problem, Problem.promises.through, Activity,
]
STAGE_LABELS = dict(Stage.State.choices)
ROLE_LABELS: dict[str, str] = dict(Contact.Role.choices)
CUSTOMER_VIA_LINK = "customer via link"
CATEGORY_WEIGHTS = {
    Problem.Category.OVERSOLD: 14, Problem.Category.MISUNDERSTOOD: 14, Problem.Category.DELIVERY_DEFECT: 26,
    Problem.Category.PRODUCT_DEFECT: 20, Problem.Category.CUSTOMER_CHANGE: 10, Problem.Category.OTHER: 16,
}
# How likely a problem of each category names one of the deal's promises.
NAMES_A_PROMISE = {
    Problem.Category.OVERSOLD: 0.9, Problem.Category.MISUNDERSTOOD: 0.9, Problem.Category.DELIVERY_DEFECT: 0.6,
    Problem.Category.CUSTOMER_CHANGE: 0.6, Problem.Category.PRODUCT_DEFECT: 0.25, Problem.Category.OTHER: 0.25,
}
SEVERITY_WEIGHTS = {
    Problem.Severity.LOW: 30, Problem.Severity.MEDIUM: 40, Problem.Severity.HIGH: 22, Problem.Severity.CRITICAL: 8,
}
# About one problem for two deliveries, over the delivery and the months after go-live.
PROBLEM_AFTER_DAYS = 120
PROBLEMS_PER_DAY = 0.5 / 160
# Median hours to resolve, by severity (log-normal around it).
RESOLVE_HOURS: dict[str, int] = {
    Problem.Severity.CRITICAL: 8, Problem.Severity.HIGH: 24, Problem.Severity.MEDIUM: 72, Problem.Severity.LOW: 120,
}
# (title, description, resolution) by category: the demo's problems and a few more.
PROBLEM_TEXTS: dict[str, list[tuple[str, str, str]]] = {
    Problem.Category.OTHER: [
        ("Invoice sent to the wrong department", "The first invoice went to purchasing instead of accounts payable.",
         "Re-issued to accounts payable and the billing contact updated."),
        ("Site access badges not ready", "Our engineers waited two hours at the gate on the first day.",
         "Badges issued for the whole team; the site contact now confirms visits the day before."),
    ],
}
for _category, _severity, _title, _description, _resolution, _close in PROBLEMS:
    PROBLEM_TEXTS.setdefault(_category, []).append(
        (_title, _description, _resolution or "Fixed with the customer; they confirmed it works as expected.")
    )


def _poisson(rng: random.Random, mean: float) -> int:
    """How many events of a Poisson process with this mean (Knuth's method; small means)."""
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def seed(*, owners: list[int], now: datetime, use_copy: bool, batch: int, progress: bool, stdout: Any) -> None:
    handovers = list(
        Handover.objects.filter(state=Handover.State.ACCEPTED, deal__sold_by__in=owners, project__isnull=True)
        .order_by("pk")
        .values("pk", "account_id", "deal_id", "deal__name", "delivery_owner_id", "accepted_at")
    )
    if not handovers:
        stdout.write("Deliveries: every accepted bench handover has its project; nothing to do.")
        return
    plans = Plans()
    bulk.in_batches(
        "Deliveries", handovers, lambda chunk: Batch(chunk, plans=plans, now=now, use_copy=use_copy).run(),
        batch=batch, unit="project", stdout=stdout, progress=progress,
    )
    bulk.analyze([Project, Stage, Stage.promises.through, SignOff, Problem, Problem.promises.through])


class Plans:
    """The active plan templates with their stages; the default plan is picked three times as
    often as each other one."""

    def __init__(self) -> None:
        self.templates = []
        default = settings.KEEPWARM["DEFAULT_PLAN_TEMPLATE"]
        for template in PlanTemplate.objects.filter(is_active=True).prefetch_related("stages").order_by("pk"):
            stages = sorted(template.stages.all(), key=lambda s: s.position)
            if stages:
                self.templates.append((template, stages))
        if not self.templates:
            raise RuntimeError("No active delivery plan with stages: migrate first (delivery's 0002 seeds them).")
        self.weights = [3 if t.name == default else 1 for t, _ in self.templates]

    def pick(self, rng: random.Random) -> tuple[Any, list[Any]]:
        return rng.choices(self.templates, weights=self.weights)[0]


class Batch:
    def __init__(self, handovers: list[dict[str, Any]], *, plans: Plans, now: datetime, use_copy: bool) -> None:
        self.handovers, self.plans, self.now, self.use_copy = handovers, plans, now, use_copy
        account_ids = {h["account_id"] for h in handovers}
        deal_ids = [h["deal_id"] for h in handovers]
        self.contacts: dict[int, list[dict[str, Any]]] = {}
        contacts: Any = Contact.objects.filter(account_id__in=account_ids, is_active=True).order_by("pk")
        for c in contacts.values("pk", "account_id", "role", "email", "do_not_contact", "first_name", "last_name"):
            self.contacts.setdefault(c["account_id"], []).append(c)
        self.promises: dict[int, list[dict[str, Any]]] = {}
        promises: Any = Promise.objects.filter(deal_id__in=deal_ids).order_by("pk")
        for p in promises.values("pk", "deal_id", "account_id", "state", "description"):
            self.promises.setdefault(p["deal_id"], []).append(p)
        # Who accepted each handover started its project (the acceptance event's actor).
        self.acceptors = dict(
            Activity.objects.filter(event_type="handover.accepted", deal_id__in=deal_ids).values_list(
                "deal_id", "actor_id"
            )
        )
        self.names = bulk.user_names({h["delivery_owner_id"] for h in handovers})
        self.link_days = timedelta(days=settings.KEEPWARM["SIGNOFF_LINK_DAYS"])
        self.rows = bulk.Rows(ROWS, use_copy=use_copy)
        self.promise_updates: dict[int, tuple[Any, ...]] = {}
        self.active_accounts: list[tuple[Any, ...]] = []

    def run(self) -> None:
        for handover in self.handovers:
            self.project(handover)
        self.rows.write()
        bulk.update(Promise, ["state", "outcome_at"], list(self.promise_updates.values()), use_copy=self.use_copy)
        bulk.update(Account, ["lifecycle"], self.active_accounts, use_copy=self.use_copy)

    # --- One project ----------------------------------------------------------------------------

    def project(self, handover: dict[str, Any]) -> None:
        rng = random.Random(f"delivery:{handover['pk']}")
        accepted, owner = handover["accepted_at"], handover["delivery_owner_id"]
        account, deal = handover["account_id"], handover["deal_id"]
        template, plan = self.plans.pick(rng)
        stages, cursor, blocked = [], accepted, False
        due = timezone.localdate(accepted)
        last_by_customer = False
        for position, step in enumerate(plan, start=1):
            due = due + timedelta(days=step.duration_days)
            stage = {
                "position": position, "name": step.name, "description": step.description,
                "needs_signoff": step.needs_signoff, "signer_role": step.signer_role, "due_date": due,
                "state": Stage.State.PLANNED, "delivered": "", "signer_id": None, "started_at": None,
                "signoff_requested_at": None, "signed_off_at": None, "done_at": None, "changes_reason": "",
            }
            moves: list[tuple[Any, ...]] = []
            if not blocked:
                finished = self.play_stage(rng, stage, moves, start=cursor, step=step, account=account, owner=owner)
                if finished is None:
                    blocked = True
                else:
                    cursor, last_by_customer = finished, step.needs_signoff
            stages.append((stage, moves))
        complete = not blocked
        project = self.rows.add(
            Project, handover_id=handover["pk"], account_id=account, deal_id=deal, owner_id=owner,
            template_id=template.pk, state=Project.State.COMPLETE if complete else Project.State.ACTIVE,
            started_at=accepted, completed_at=cursor if complete else None,
        )
        self.rows.event(
            account=account, deal=deal, event_type="delivery.project_started", at=accepted,
            actor=self.acceptors.get(deal), subject=f"Delivery started: {template.name} plan, owned by "
            f"{self.names.get(owner, 'nobody')}", data={"project": project, "template": template.pk, "owner": owner},
        )
        stage_ids = [self.write_stage(stage, moves, project=project, account=account, deal=deal, owner=owner)
                     for stage, moves in stages]
        promises = [p for p in self.promises.get(deal, []) if p["state"] != Promise.State.WITHDRAWN]
        for promise in promises:  # the stage that fulfils it
            self.rows.add(Stage.promises.through, stage_id=rng.choice(stage_ids), promise_id=promise["pk"])
        problems = self.problems(rng, handover, project=project, promises=promises,
                                 completed=cursor if complete else None)
        self.outcomes(handover, promises, problems, completed=cursor if complete else None,
                      by=None if last_by_customer else owner, project=project)
        if complete:
            self.active_accounts.append((account, Account.Lifecycle.ACTIVE))

    def play_stage(self, rng: random.Random, stage: dict[str, Any], moves: list[tuple[Any, ...]], *,
                   start: datetime, step: Any, account: int, owner: int) -> datetime | None:
        """Plays one stage from `start`: returns when it became final, or None when it is still
        open now (its state is then where its last step before now left it)."""
        started = (start + bulk.days(rng, 0.02, 2, 0.3)).replace(microsecond=0)
        if started > self.now:
            return None
        stage.update(state=Stage.State.IN_PROGRESS, started_at=started)
        moves.append(("start", started, Stage.State.PLANNED))
        ready = (started + timedelta(days=step.duration_days * rng.uniform(0.5, 1.5))).replace(microsecond=0)
        if not step.needs_signoff:
            if ready > self.now:
                return None
            stage.update(state=Stage.State.DONE, done_at=ready)
            moves.append(("done", ready))
            return ready
        request = ready
        for attempt in range(2):
            if request > self.now:
                return None
            signer = self.signer(rng, account, step.signer_role, at=request, owner=owner)
            stage.update(state=Stage.State.AWAITING_SIGNOFF, signer_id=signer["pk"], signoff_requested_at=request,
                         delivered=DELIVERED.get(step.name, f"{step.name} completed as planned."))
            slow = rng.random() < 0.06
            wait = bulk.days(rng, 6, 13, 9) if slow else bulk.days(rng, 0.05, 6, 0.8)
            answered = (request + wait).replace(microsecond=0)
            if answered > self.now:
                moves.append(("request", request, signer, None))
                return None
            changes = attempt == 0 and rng.random() < 0.1
            moves.append(("request", request, signer, answered))
            if not changes:
                stage.update(state=Stage.State.SIGNED_OFF, signed_off_at=answered)
                moves.append(("answer", answered, signer, SignOff.Decision.SIGNED_OFF, "", rng))
                return answered
            stage.update(state=Stage.State.CHANGES_REQUESTED, changes_reason=CHANGES)
            moves.append(("answer", answered, signer, SignOff.Decision.CHANGES_REQUESTED, CHANGES, rng))
            restarted = (answered + bulk.days(rng, 0.3, 5, 1.2)).replace(microsecond=0)
            if restarted > self.now:
                return None
            stage.update(state=Stage.State.IN_PROGRESS)
            moves.append(("start", restarted, Stage.State.CHANGES_REQUESTED))
            request = (restarted + bulk.days(rng, 0.3, 4, 1)).replace(microsecond=0)
        return None

    def signer(self, rng: random.Random, account: int, role: str, *, at: datetime, owner: int) -> dict[str, Any]:
        """A contact who may sign (active, reachable, with an email and the stage's role); when
        the customer has none, they name one and the delivery owner records them."""
        contacts = self.contacts.setdefault(account, [])
        eligible = [c for c in contacts if c["email"] and not c["do_not_contact"] and (not role or c["role"] == role)]
        if eligible:
            return eligible[rng.randrange(len(eligible))]
        first, last = SIGNER_NAMES[rng.randrange(len(SIGNER_NAMES))]
        contact: dict[str, Any] = {
            "account_id": account, "first_name": first, "last_name": last, "title": SIGNER_TITLES.get(role, ""),
            "role": role or Contact.Role.OTHER, "email": f"{first}.{last}.{account}@customer.example".lower(),
            "phone": "", "preferred_channel": Contact.Channel.EMAIL, "best_time": "", "do_not_contact": False,
            "is_primary": False, "is_active": True, "left_at": None, "created_at": at,
        }
        contact["pk"] = self.rows.add(Contact, **contact)
        contacts.append(contact)
        self.rows.event(account=account, event_type="contact.added", at=at, actor=owner,
                        subject=f"Contact {first} {last} added ({ROLE_LABELS[contact['role']]})",
                        data={"contact": contact["pk"]})
        return contact

    def write_stage(self, stage: dict[str, Any], moves: list[tuple[Any, ...]], *, project: int, account: int,
                    deal: int, owner: int) -> int:
        pk = self.rows.add(Stage, project_id=project, account_id=account, **stage)
        name = stage["name"]
        state = Stage.State.PLANNED
        link = None
        for move in moves:
            kind, at = move[0], move[1]
            data: dict[str, Any] = {"stage": pk, "project": project}
            if kind == "start":
                state, before = Stage.State.IN_PROGRESS, move[2]
                self.stage_event(account, deal, at, owner, name, before, state, data)
            elif kind == "done":
                state, before = Stage.State.DONE, state
                self.stage_event(account, deal, at, owner, name, before, state, data)
            elif kind == "request":
                signer, answered = move[2], move[3]
                link = self.rows.add(
                    CustomerLink, purpose=CustomerLink.Purpose.SIGNOFF, account_id=account, contact_id=signer["pk"],
                    target=f"{Stage._meta.label_lower}:{pk}", token_hash=secrets.token_hex(32),
                    reusable=False, created_by_id=owner, created_at=at, expires_at=at + self.link_days,
                    used_at=answered, revoked_at=None, emailed_at=min(at + timedelta(minutes=1), self.now),
                    renewal_requested_at=None,
                )
                state, before = Stage.State.AWAITING_SIGNOFF, state
                self.stage_event(account, deal, at, owner, name, before, state,
                                 {**data, "signer": signer["pk"], "link": link})
            elif kind == "answer":
                signer, decision, reason, rng = move[2], move[3], move[4], move[5]
                typed = f"{signer['first_name']} {signer['last_name']}".strip() or "Customer"
                ip, agent = f"192.0.2.{rng.randint(10, 250)}", rng.choice(USER_AGENTS)
                signoff = self.rows.add(
                    SignOff, stage_id=pk, contact_id=signer["pk"], link_id=link, decision=decision, typed_name=typed,
                    reason=reason, ip_address=ip, user_agent=agent, created_at=at,
                )
                before, state = state, decision
                verb = "signed off" if decision == SignOff.Decision.SIGNED_OFF else "asked for changes to"
                self.rows.event(
                    account=account, deal=deal, event_type=f"delivery.stage.{state}", at=at, ip=ip, body=reason,
                    actor_label=f"{CUSTOMER_VIA_LINK} ({typed})", subject=f"{typed} {verb} stage {name}",
                    data={"stage": pk, "signoff": signoff, "from": before, "to": state, "contact": signer["pk"],
                          "typed_name": typed, "user_agent": agent},
                )
        return pk

    def stage_event(self, account: int, deal: int, at: datetime, owner: int, name: str, before: str, after: str,
                    data: dict[str, Any]) -> None:
        self.rows.event(account=account, deal=deal, event_type=f"delivery.stage.{after}", at=at, actor=owner,
                        subject=f"Stage {name}: {STAGE_LABELS[before]} -> {STAGE_LABELS[after]}",
                        data={**data, "from": before, "to": after})

    # --- Problems and the promises' outcomes ---------------------------------------------------

    def problems(self, rng: random.Random, handover: dict[str, Any], *, project: int,
                 promises: list[dict[str, Any]], completed: datetime | None) -> list[dict[str, Any]]:
        accepted, owner, account = handover["accepted_at"], handover["delivery_owner_id"], handover["account_id"]
        until = min(self.now, (completed or self.now) + timedelta(days=PROBLEM_AFTER_DAYS))
        raised = []
        # Problems come at a steady rate from acceptance until PROBLEM_AFTER_DAYS after go-live
        # (a recent delivery has had less time for them).
        exposure = (until - accepted).total_seconds() / 86400
        for _ in range(_poisson(rng, PROBLEMS_PER_DAY * exposure)):
            at = (accepted + (until - accepted) * rng.random()).replace(microsecond=0)
            category = rng.choices(list(CATEGORY_WEIGHTS), weights=list(CATEGORY_WEIGHTS.values()))[0]
            severity = rng.choices(list(SEVERITY_WEIGHTS), weights=list(SEVERITY_WEIGHTS.values()))[0]
            title, description, resolution = rng.choice(PROBLEM_TEXTS[category])
            named = [rng.choice(promises)] if promises and rng.random() < NAMES_A_PROMISE[category] else []
            by_customer = rng.random() < 0.15
            contacts = self.contacts.get(account) or [{"first_name": "The", "last_name": "customer"}]
            caller = contacts[0]
            problem = add_problem(
                self.rows, rng, self.now, account=account, project=project, title=title, description=description,
                category=category, severity=severity, resolution=resolution, raised_at=at, resolved_by=owner,
                source=Problem.Source.CUSTOMER if by_customer else Problem.Source.STAFF,
                raised_by=None if by_customer else owner,
                raised_by_label=f"{caller['first_name']} {caller['last_name']} (by phone)" if by_customer else "",
                named=named,
            )
            raised.append(problem)
        return raised

    def outcomes(self, handover: dict[str, Any], promises: list[dict[str, Any]], problems: list[dict[str, Any]], *,
                 completed: datetime | None, by: int | None, project: int) -> None:
        """In time order: each problem breaks the promises it names (unless the customer changed
        their mind), then the completion keeps those still open that no open problem disputes.
        Then each problem's events."""
        deal, owner = handover["deal_id"], handover["delivery_owner_id"]
        states = {p["pk"]: p["state"] for p in promises}
        happenings: list[tuple[datetime, int, dict[str, Any] | None]] = [(p["raised_at"], 0, p) for p in problems]
        if completed is not None:
            happenings.append((completed, 1, None))
        kept: list[int] = []
        left_open: list[int] = []
        for at, _, problem in sorted(happenings, key=lambda h: (h[0], h[1])):
            if problem is not None:
                broken = []
                if problem["category"] != Problem.Category.CUSTOMER_CHANGE:
                    for promise in problem["named"]:
                        if states[promise["pk"]] in (Promise.State.ACTIVE, Promise.State.RESET, Promise.State.KEPT):
                            self.outcome(promise, states, Promise.State.BROKEN, at, problem["raised_by_id"],
                                         f"Problem: {problem['title']}")
                            broken.append(promise["pk"])
                problem["broken"] = broken
                continue
            disputed = {
                promise["pk"] for p in problems for promise in p["named"]
                if p["raised_at"] <= at and (p["resolved_at"] is None or p["resolved_at"] > at)
            }
            for promise in promises:
                if states[promise["pk"]] not in (Promise.State.ACTIVE, Promise.State.RESET):
                    continue
                if promise["pk"] in disputed:
                    left_open.append(promise["pk"])
                    continue
                self.outcome(promise, states, Promise.State.KEPT, at, by, "Delivery complete.")
                kept.append(promise["pk"])
            self.rows.event(
                account=handover["account_id"], deal=deal, event_type="delivery.project_completed", at=at, actor=by,
                actor_label="" if by is not None else CUSTOMER_VIA_LINK,
                subject=completed_subject(handover["deal__name"], len(kept)),
                data={"project": project, "kept": kept, "left_open": left_open},
            )
        for problem in problems:
            problem_events(self.rows, problem, deal=deal, owner=owner)

    def outcome(self, promise: dict[str, Any], states: dict[int, str], state: str, at: datetime, by: int | None,
                reason: str) -> None:
        before, states[promise["pk"]] = states[promise["pk"]], state
        self.promise_updates[promise["pk"]] = (promise["pk"], state, at)
        self.rows.event(
            account=promise["account_id"], deal=promise["deal_id"], event_type=f"promise.{state}", at=at, actor=by,
            subject=f"Promise {Promise.State(state).label.lower()}: {promise['description'][:120]}", body=reason,
            data={"promise": promise["pk"], "from": before, "to": state},
        )


def add_problem(
    rows: bulk.Rows, rng: random.Random, now: datetime, *, account: int, project: int | None, title: str,
    description: str, category: str, severity: str, source: str, raised_by: int | None, raised_by_label: str,
    raised_at: datetime, resolution: str, resolved_by: int, named: list[dict[str, Any]] | tuple[()] = (),
) -> dict[str, Any]:
    """A problem raised at `raised_at` and, when that time has come, resolved (after a
    log-normal number of hours around the severity's median) and maybe closed; with the
    promises it names. Also for touchpoints' part (check-ups and surveys raise problems).
    Its events are written by `problem_events`, once the caller knows which promises it broke."""
    hours = rng.lognormvariate(math.log(RESOLVE_HOURS[severity]), 1.0)
    resolved: datetime | None = (raised_at + timedelta(hours=hours)).replace(microsecond=0)
    if resolved is not None and resolved > now:
        resolved = None
    closed = None
    if resolved is not None and rng.random() < 0.5:
        closed = (resolved + bulk.days(rng, 0.5, 7, 2)).replace(microsecond=0)
        closed = closed if closed <= now else None
    state = Problem.State.CLOSED if closed else Problem.State.RESOLVED if resolved else Problem.State.OPEN
    problem: dict[str, Any] = {
        "account_id": account, "project_id": project, "title": title, "description": description,
        "category": category, "severity": severity, "source": source, "state": state, "raised_by_id": raised_by,
        "raised_by_label": raised_by_label, "raised_at": raised_at, "resolution": resolution if resolved else "",
        "resolved_at": resolved, "resolved_by_id": resolved_by if resolved else None, "closed_at": closed,
        "reopen_count": 0,
    }
    problem["pk"] = rows.add(Problem, **problem)
    for promise in named:
        rows.add(Problem.promises.through, problem_id=problem["pk"], promise_id=promise["pk"])
    problem.update(named=list(named), broken=[])
    return problem


def problem_events(rows: bulk.Rows, problem: dict[str, Any], *, deal: int | None, owner: int) -> None:
    """The raised, resolved and closed events of a problem made by `add_problem`."""
    labels = f"({Problem.Severity(problem['severity']).label}, {Problem.Category(problem['category']).label})"
    by, account, title = problem["raised_by_id"], problem["account_id"], problem["title"][:120]
    rows.event(
        account=account, deal=deal, event_type="delivery.problem.raised", at=problem["raised_at"], actor=by,
        actor_label="" if by is not None else problem["raised_by_label"], subject=f"Problem raised {labels}: {title}",
        body=problem["description"],
        data={"problem": problem["pk"], "state": Problem.State.OPEN, "category": problem["category"],
              "severity": problem["severity"], "source": problem["source"],
              "promises": [p["pk"] for p in problem["named"]], "broken": problem["broken"]},
    )
    if problem["resolved_at"] is not None:
        hours = round((problem["resolved_at"] - problem["raised_at"]).total_seconds() / 3600, 2)
        rows.event(
            account=account, deal=deal, event_type="delivery.problem.resolved", at=problem["resolved_at"],
            actor=owner, subject=f"Problem resolved {labels}: {title}", body=problem["resolution"],
            data={"problem": problem["pk"], "state": Problem.State.RESOLVED, "hours_to_resolve": hours},
        )
    if problem["closed_at"] is not None:
        rows.event(
            account=account, deal=deal, event_type="delivery.problem.closed", at=problem["closed_at"], actor=owner,
            subject=f"Problem closed {labels}: {title}", data={"problem": problem["pk"], "state": Problem.State.CLOSED},
        )
