"""Model validation before a service writes, for every app."""

from __future__ import annotations

from typing import Any


def validate_model(instance: Any, exclude: list[str] | None = None) -> None:
    """Model validation with messages keyed by field; raises before anything is written.

    Protected FSM fields are left out: full_clean would assign them, which django-fsm forbids
    (and only transitions change them anyway)."""
    protected = [f.name for f in instance._meta.concrete_fields if getattr(f, "protected", False)]
    instance.full_clean(exclude=[*(exclude or []), *protected], validate_constraints=False)
