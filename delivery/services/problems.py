"""Problems: raising one (breaking the promises it names, alerting on a critical one),
resolving, closing and reopening it, and who its promises trace back to."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from core.transitions import fire_transition
from core.validation import validate_model
from crm.models import Account
from delivery import events, permissions
from delivery.models import Problem, Project
from delivery.services.shared import TEXT_LIMIT
from handover.models import Promise
from handover.services import promises_break
from outbox import notices


def _problem_text(title: str, description: str) -> tuple[str, str]:
    title, description = (title or "").strip(), (description or "").strip()
    errors = {}
    if not title:
        errors["title"] = "Give the problem a short title."
    elif len(title) > 200:
        errors["title"] = "Keep the title under 200 characters."
    if len(description) > 10000:
        errors["description"] = "Keep the description under 10,000 characters."
    if errors:
        raise ValidationError(errors)
    return title, description


@transaction.atomic
def problem_raise(
    *,
    account: Account,
    by: Any,
    title: str,
    category: str,
    severity: str,
    description: str = "",
    promises: list[Promise] | tuple[Promise, ...] = (),
    source: str = Problem.Source.STAFF,
    project: Project | None = None,
    raised_by_label: str = "",
) -> Problem:
    """Records a problem. Each promise it names is marked broken (through handover's service)
    unless the category is a customer-side change; the attribution is the promise's frozen
    maker and the deal's frozen seller. Critical problems alert the owner, the delivery
    managers and the account's sales rep. `by` is None when a customer or a check-up raised it."""
    if by is not None:
        permissions.require_can_raise_problem(by, account)
    title, description = _problem_text(title, description)
    promises = list(promises)
    foreign = [p.pk for p in promises if p.account_id != account.pk]
    if foreign:
        raise ValidationError({"promises": "Choose promises made to this account."})
    if project is not None and project.account_id != account.pk:
        raise ValidationError({"project": "Choose a delivery of this account."})
    if project is None:
        deals = {p.deal_id for p in promises}
        project = (
            Project.objects.filter(account=account, deal_id__in=deals).first()
            if deals
            else Project.objects.filter(account=account, state=Project.State.ACTIVE).first()
        )
    problem = Problem(
        account=account,
        project=project,
        title=title,
        description=description,
        category=category,
        severity=severity,
        source=source,
        raised_by=by,
        raised_by_label=raised_by_label,
    )
    validate_model(problem)
    problem.save()
    problem.promises.set(promises)
    broken = promises_break(promises=promises, by=by, category=category, reason=f"Problem: {title}")
    events.problem_event(
        problem=problem,
        by=by,
        event="raised",
        body=description,
        data={
            "category": category,
            "severity": severity,
            "source": source,
            "promises": [p.pk for p in promises],
            "broken": broken,
        },
    )
    if severity == Problem.Severity.CRITICAL:
        notices.notice_schedule(
            kind="delivery.problem_critical",
            key=f"delivery.problem_critical:{problem.pk}",
            target=problem,
            send_now=True,
        )
    return problem


def _lock_problem(problem: Problem) -> Problem:
    return Problem.objects.select_for_update(of=("self",)).select_related("account", "project").get(pk=problem.pk)


@transaction.atomic
def problem_resolve(*, problem: Problem, by: Any, resolution: str) -> Problem:
    problem = _lock_problem(problem)
    permissions.require_can_work_problem(by, problem)
    resolution = (resolution or "").strip()
    if not resolution:
        raise ValidationError({"resolution": "Say how it was resolved."})
    if len(resolution) > TEXT_LIMIT:
        raise ValidationError({"resolution": f"Keep it under {TEXT_LIMIT} characters."})
    fire_transition(problem.resolve, resolution=resolution, by=by)
    problem.save()
    events.problem_event(
        problem=problem,
        by=by,
        event="resolved",
        body=resolution,
        data={
            "hours_to_resolve": round(problem.time_to_resolve.total_seconds() / 3600, 2)
            if problem.time_to_resolve
            else None
        },
    )
    return problem


@transaction.atomic
def problem_close(*, problem: Problem, by: Any) -> Problem:
    problem = _lock_problem(problem)
    permissions.require_can_work_problem(by, problem)
    fire_transition(problem.close)
    problem.save()
    events.problem_event(problem=problem, by=by, event="closed")
    return problem


@transaction.atomic
def problem_reopen(*, problem: Problem, by: Any, reason: str) -> Problem:
    problem = _lock_problem(problem)
    permissions.require_can_raise_problem(by, problem.account)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the problem is reopened."})
    if len(reason) > TEXT_LIMIT:
        raise ValidationError({"reason": f"Keep it under {TEXT_LIMIT} characters."})
    fire_transition(problem.reopen)
    problem.save()
    events.problem_event(problem=problem, by=by, event="reopened", body=reason)
    return problem


def problem_attribution(problem: Problem) -> list[dict[str, Any]]:
    """Who each of the problem's promises traces back to: the frozen maker and the deal's
    frozen seller, never the account's current owner."""
    return [
        {"promise": p, "made_by": p.made_by, "sold_by": p.deal.sold_by}
        for p in problem.promises.select_related("made_by", "deal__sold_by").order_by("pk")
    ]
