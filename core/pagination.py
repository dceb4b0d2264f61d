"""Pagination whose cost does not grow with the data."""

from __future__ import annotations

from functools import cached_property

from django.core.paginator import Paginator


class CappedPaginator(Paginator):
    """Counts at most `cap` + 1 rows: "more than 1,000" is all a person needs to read, and
    counting every row of a 100,000-account table on each page view grows with the data.
    Beyond the cap, people narrow the list with search and filters."""

    cap = 1000

    @cached_property
    def count(self) -> int:
        # Only the keys, unordered: the annotations and the sort are not needed to count.
        return self.object_list.order_by().values("pk")[: self.cap + 1].count()  # type: ignore[union-attr,attr-defined]

    @property
    def is_capped(self) -> bool:
        return self.count > self.cap
