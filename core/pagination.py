"""Pagination whose cost does not grow with the data."""

from __future__ import annotations

from functools import cached_property

from django.core.paginator import Paginator

from core.counting import COUNT_CAP, capped_count


class CappedPaginator(Paginator):
    """A page's paginator that counts at most `cap` + 1 rows (core.counting)."""

    cap = COUNT_CAP

    @cached_property
    def count(self) -> int:
        return capped_count(self.object_list, self.cap)

    @property
    def is_capped(self) -> bool:
        return self.count > self.cap
