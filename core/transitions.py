"""django-fsm transitions run by services, for every app."""

from __future__ import annotations

from typing import Any

from django_fsm import TransitionNotAllowed

from core.exceptions import Conflict


def fire_transition(action: Any, **kwargs: Any) -> None:
    """Runs a django-fsm transition; an illegal one is a Conflict (HTTP 409) for every app."""
    try:
        action(**kwargs)
    except TransitionNotAllowed:
        raise Conflict("That is not possible in the current state; reload to see what changed.") from None
