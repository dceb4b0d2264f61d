"""Delivery projects: the plan a project is made from, starting one for an accepted handover,
its active deliveries following the account's owner, and completing it once every stage is
done (its promises kept, the account an active customer)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from core.transitions import fire_transition
from crm import roles
from crm.models import Account
from crm.services import account_lifecycle_change
from delivery import events
from delivery.models import PlanTemplate, Problem, Project, Stage
from delivery.services.shared import setting
from handover.models import Handover, Promise
from handover.services import promise_mark_outcome


def plan_template_default() -> PlanTemplate | None:
    active = PlanTemplate.objects.filter(is_active=True)
    return active.filter(name=setting("DEFAULT_PLAN_TEMPLATE")).first() or active.order_by("pk").first()


def plan_template_choose(template_id: Any) -> PlanTemplate:
    if template_id:
        template = PlanTemplate.objects.filter(pk=template_id, is_active=True).first()
        if template is None:
            raise ValidationError({"plan_template": "Choose one of the active delivery plans."})
        return template
    template = plan_template_default()
    if template is None:
        raise ValidationError({"plan_template": "There is no delivery plan yet; an administrator adds one."})
    return template


def project_start(*, handover: Handover, by: Any, template_id: Any = None) -> Project:
    """The delivery project for an accepted handover, its stages copied from the plan, due
    dates following one another from the acceptance date. Runs inside the acceptance
    transaction (the acceptance flow calls it): if it fails, nothing is accepted."""
    template = plan_template_choose(template_id)
    plan = list(template.stages.order_by("position"))
    if not plan:
        raise ValidationError({"plan_template": f"The plan {template.name!r} has no stages."})
    if handover.delivery_owner is None:
        raise ValidationError({"delivery_owner": "An accepted handover names its delivery owner."})
    project = Project.objects.create(
        handover=handover,
        account=handover.account,
        deal=handover.deal,
        owner=handover.delivery_owner,
        template=template,
    )
    due = timezone.localdate(handover.accepted_at)
    stages = []
    for position, step in enumerate(plan, start=1):
        due = due + timedelta(days=step.duration_days)
        stages.append(
            Stage(
                project=project,
                account=handover.account,
                position=position,
                name=step.name,
                description=step.description,
                needs_signoff=step.needs_signoff,
                signer_role=step.signer_role,
                due_date=due,
            )
        )
    Stage.objects.bulk_create(stages)
    events.project_started_event(project=project, by=by)
    return project


def projects_move_owner(*, account: Account, from_user: Any, to_user: Any) -> int:
    """Reassigning the account to another delivery person moves the active deliveries the
    previous owner ran (a sales rep taking the account back does not become delivery owner)."""
    if not roles.has_role(to_user, roles.DELIVERY_TEAM, roles.DELIVERY_MANAGER):
        return 0
    return Project.objects.filter(account=account, owner=from_user, state=Project.State.ACTIVE).update(owner=to_user)


def complete_project_if_done(project: Project, *, by: Any) -> bool:
    """Every stage signed off or done: the project is complete, its promises still open are kept
    (unless an unresolved problem names them), and the account becomes an active customer."""
    project = Project.objects.select_for_update().select_related("deal", "account", "owner").get(pk=project.pk)
    if project.state != Project.State.ACTIVE:
        return False
    if project.stages.exclude(state__in=Stage.FINAL_STATES).exists():
        return False
    fire_transition(project.complete)
    project.save()
    disputed = set(
        Problem.objects.filter(state=Problem.State.OPEN, promises__deal_id=project.deal_id).values_list(
            "promises", flat=True
        )
    )
    kept, left_open = [], []
    for promise in Promise.objects.filter(deal_id=project.deal_id, state__in=Promise.OPEN_STATES).order_by("pk"):
        if promise.pk in disputed:
            left_open.append(promise.pk)
            continue
        promise_mark_outcome(promise=promise, by=by, kept=True, reason="Delivery complete.")
        kept.append(promise.pk)
    account_lifecycle_change(
        account=project.account, to=Account.Lifecycle.ACTIVE, by=by, only_from=(Account.Lifecycle.ONBOARDING,),
    )
    events.project_completed_event(project=project, by=by, kept=kept, left_open=left_open)
    return True
