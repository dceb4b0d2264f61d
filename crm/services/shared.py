"""What several of crm's services share: applying the edits a form or the API sends (and
recording what changed, for the event row), and who may be given an account or a team seat."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError

from core.exceptions import Conflict
from crm import roles


def apply_changes(instance: Any, data: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    unknown = set(data) - set(allowed)
    if unknown:
        raise ValidationError({name: "This field cannot be changed here." for name in sorted(unknown)})
    changed: dict[str, Any] = {}
    for name, value in data.items():
        old = getattr(instance, name)
        if old != value:
            changed[name] = {"from": _jsonable(old), "to": _jsonable(value)}
            setattr(instance, name, value)
    return changed


def _jsonable(value: Any) -> Any:
    if isinstance(value, (Decimal, datetime)) or hasattr(value, "isoformat"):
        return str(value)
    return value


def require_assignable(user: Any, field_name: str) -> None:
    """A new owner must be an active vendor person with a role."""
    if user is None or not user.is_active or not roles.role_names(user):
        raise ValidationError({field_name: "Choose an active team member with a role."})


def require_not_merged(row: Any) -> None:
    """A merged account or contact is a tombstone: its survivor is where changes go."""
    if row.merged_into_id is not None:
        raise Conflict(f"{row} was merged into another record (#{row.merged_into_id}); change that one instead.")
