"""What several of delivery's service modules use: the settings they read, the length limit
of what people type, and the lock and the check every change of a stage starts with."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from core.exceptions import Conflict
from delivery.models import Project, Stage

TEXT_LIMIT = 5000


def setting(name: str) -> Any:
    return settings.KEEPWARM[name]


def lock_stage(stage: Stage) -> Stage:
    return (
        Stage.objects.select_for_update(of=("self",)).select_related("project__deal", "project__owner").get(pk=stage.pk)
    )


def require_active(stage: Stage) -> None:
    if stage.project.state != Project.State.ACTIVE:
        raise Conflict("The delivery is complete; its stages no longer change.")
