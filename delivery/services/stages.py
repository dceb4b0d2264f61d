"""A project's stages as the delivery owner runs them: starting, completing, editing, and the
promises each fulfils. The customer's sign-off is in `signoff`."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from core.exceptions import Conflict
from core.transitions import fire_transition
from core.validation import validate_model
from delivery import events, permissions
from delivery.models import Stage
from delivery.services.projects import complete_project_if_done
from delivery.services.shared import lock_stage, require_active
from handover.models import Promise

STAGE_FIELDS = ("due_date", "description", "delivered")


@transaction.atomic
def stage_start(*, stage: Stage, by: Any) -> Stage:
    stage = lock_stage(stage)
    permissions.require_can_run_delivery(by, stage.project)
    require_active(stage)
    from_state = stage.state
    fire_transition(stage.start)
    stage.save()
    events.stage_transition_event(stage=stage, by=by, from_state=from_state)
    return stage


@transaction.atomic
def stage_complete(*, stage: Stage, by: Any) -> Stage:
    """A stage the customer does not sign off is done when the delivery owner says so."""
    stage = lock_stage(stage)
    permissions.require_can_run_delivery(by, stage.project)
    require_active(stage)
    if stage.needs_signoff:
        raise Conflict("The customer signs this stage off; request their sign-off instead.")
    from_state = stage.state
    fire_transition(stage.complete)
    stage.save()
    events.stage_transition_event(stage=stage, by=by, from_state=from_state)
    complete_project_if_done(stage.project, by=by)
    return stage


@transaction.atomic
def stage_update(*, stage: Stage, by: Any, **data: Any) -> Stage:
    stage = lock_stage(stage)
    permissions.require_can_run_delivery(by, stage.project)
    require_active(stage)
    unknown = set(data) - set(STAGE_FIELDS)
    if unknown:
        raise ValidationError({name: "This field cannot be changed here." for name in sorted(unknown)})
    changed = {}
    for name, value in data.items():
        if getattr(stage, name) != value:
            changed[name] = str(value) if value is not None else None
            setattr(stage, name, value)
    if stage.due_date and not (date(2000, 1, 1) <= stage.due_date <= date(2100, 12, 31)):
        raise ValidationError({"due_date": "Enter a date between 2000 and 2100."})
    validate_model(stage)
    if changed:
        stage.save(update_fields=list(changed))
        events.stage_changed_event(stage=stage, by=by, changed=changed)
    return stage


@transaction.atomic
def stage_set_promises(*, stage: Stage, by: Any, promises: list[Promise]) -> Stage:
    """The delivery owner says which of the deal's promises this stage fulfils."""
    stage = lock_stage(stage)
    permissions.require_can_run_delivery(by, stage.project)
    require_active(stage)
    foreign = [p.pk for p in promises if p.deal_id != stage.project.deal_id]
    if foreign:
        raise ValidationError({"promises": "Choose promises made on this project's deal."})
    before = set(stage.promises.values_list("pk", flat=True))
    after = {p.pk for p in promises}
    if before != after:
        stage.promises.set(promises)
        events.stage_changed_event(stage=stage, by=by, changed={"promises": sorted(after)})
    return stage
