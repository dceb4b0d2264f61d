"""Fetch what the user may see (404 otherwise), then role checks (403)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied

from crm import roles
from crm.permissions import get_visible_or_404, is_on_team
from delivery.models import Problem, Project, Stage


def get_project_for(user: Any, pk: Any) -> Project:
    return get_visible_or_404(  # type: ignore[no-any-return]
        Project.objects.visible_to(user).select_related("account", "deal", "owner", "template", "handover"), pk
    )


def get_stage_for(user: Any, pk: Any) -> Stage:
    return get_visible_or_404(  # type: ignore[no-any-return]
        Stage.objects.visible_to(user).select_related("project__owner", "project__deal", "account", "signer"), pk
    )


def get_problem_for(user: Any, pk: Any) -> Problem:
    return get_visible_or_404(  # type: ignore[no-any-return]
        Problem.objects.visible_to(user).select_related("account", "project", "raised_by"), pk
    )


def can_run_delivery(user: Any, project: Project) -> bool:
    """The delivery owner, delivery managers and administrators move stages."""
    return user.pk == project.owner_id or roles.has_role(user, roles.DELIVERY_MANAGER, roles.ADMINISTRATOR)


def require_can_run_delivery(user: Any, project: Project) -> None:
    if not can_run_delivery(user, project):
        raise PermissionDenied("Only the delivery owner and delivery managers move this project's stages.")


def can_raise_problem(user: Any, account: Any) -> bool:
    """Anyone on the account team, and the managers who oversee every account."""
    return roles.has_role(user, *roles.MANAGER_ROLES) or is_on_team(user, account)


def require_can_raise_problem(user: Any, account: Any) -> None:
    if not can_raise_problem(user, account):
        raise PermissionDenied("Only the account team and managers raise problems on this account.")


def can_work_problem(user: Any, problem: Problem) -> bool:
    """Resolving and closing: the delivery owner, delivery managers and administrators."""
    if roles.has_role(user, roles.DELIVERY_MANAGER, roles.ADMINISTRATOR):
        return True
    if problem.project is not None and problem.project.owner_id == user.pk:
        return True
    return is_on_team(user, problem.account, "delivery_owner")


def require_can_work_problem(user: Any, problem: Problem) -> None:
    if not can_work_problem(user, problem):
        raise PermissionDenied("Only the delivery owner and delivery managers resolve or close problems.")
