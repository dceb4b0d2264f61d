"""Counts whose cost does not grow with the data: every list that says how many rows match
counts at most COUNT_CAP + 1 of them.

"More than 10,000" is all a person (or an API client deciding whether to page on) needs to read,
and counting every row of a 100,000-account table on each request grows with the data. Beyond
the cap, people narrow the list with search and filters, and API clients follow `next`; GitLab's
API drops its total past the same 10,000.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

COUNT_CAP = 10_000


def capped_count(rows: Any, cap: int = COUNT_CAP) -> int:
    """How many of `rows` there are, up to `cap` + 1 (which means "more than `cap`")."""
    if isinstance(rows, QuerySet):
        # Only the keys, unordered: the annotations and the sort are not needed to count.
        return rows.order_by().values("pk")[: cap + 1].count()
    return len(rows[: cap + 1])
