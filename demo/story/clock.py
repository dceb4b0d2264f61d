"""Demo data happened in the past: `DemoClock` moves what a service wrote "now" back to the
moment the story says it happened.

The services stamp their rows with the current time (they take no clock, and the demo must not
patch one); each demo step runs inside `clock.at(moment)`, and on leaving it every listed
timestamp written at or after the step's start is set to `moment` with a queryset update. Every
demo moment lies in the past, so a row stamped at or after the start of a step was written by
that step. List only the fields a service stamps with "now", never a deadline or an expiry
computed forward from it (those the demo recomputes from the moment).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.utils import timezone


class DemoClock:
    def __init__(self, stamped: Sequence[tuple[Any, str]]) -> None:
        self.stamped = list(stamped)

    @contextmanager
    def at(self, moment: datetime) -> Iterator[None]:
        started = timezone.now()
        yield
        for model, name in self.stamped:
            model._default_manager.filter(**{f"{name}__gte": started}).update(**{name: moment})


def spread(start: datetime, end: datetime, count: int) -> list[datetime]:
    """`count` moments from `start` to `end`, evenly apart and in order (both ends excluded)."""
    step = (end - start) / (count + 1)
    return [(start + step * (i + 1)).replace(microsecond=0) for i in range(count)]
