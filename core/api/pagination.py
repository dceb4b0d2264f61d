"""Page-number pagination whose cost does not grow with the data.

DRF's PageNumberPagination counts every matching row (`SELECT COUNT(*)`) on every page; at
100,000 accounts that count is most of the list's database time and grows with the table. Here:

- a page reads `page_size + 1` rows, so "is there a next page" needs no count;
- `count` is exact up to COUNT_CAP rows (core.counting: the count stops at COUNT_CAP + 1, so it
  costs the same at any size, the same cap as every page's list) and `null` beyond;
- on the last page the count is known from the offset, without a count query;
- every page stays reachable through `next` (and `?page=N`), whatever the count says.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from core.counting import COUNT_CAP, capped_count

MAX_PAGE = 1_000_000_000  # times max_page_size (200): far inside a bigint OFFSET


class StandardPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    count_cap = COUNT_CAP
    template = None  # the browsable API's numbered controls need the page count

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> list[Any] | None:
        self.request, self.url = request, request.build_absolute_uri()
        size = self.get_page_size(request)
        if not size:
            return None
        raw = request.query_params.get(self.page_query_param) or "1"
        try:
            number = int(raw)
        except ValueError:
            number = 0
        if not 1 <= number <= MAX_PAGE:  # past MAX_PAGE the OFFSET would overflow PostgreSQL's bigint
            raise NotFound(self.invalid_page_message)
        offset = (number - 1) * size
        rows = list(queryset[offset : offset + size + 1])
        self.number, self.has_next = number, len(rows) > size
        rows = rows[:size]
        if number > 1 and not rows:
            raise NotFound(self.invalid_page_message)
        self.count = self._count(queryset, offset=offset, on_page=len(rows))
        return rows

    def _count(self, queryset: Any, *, offset: int, on_page: int) -> int | None:
        if not self.has_next:
            return offset + on_page  # the last page: everything is before it or on it
        if offset + on_page >= self.count_cap:
            return None  # more than the cap is already known
        counted = capped_count(queryset, self.count_cap)
        return counted if counted <= self.count_cap else None

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {"count": self.count, "next": self.get_next_link(), "previous": self.get_previous_link(), "results": data}
        )

    def get_next_link(self) -> str | None:
        if not self.has_next:
            return None
        return replace_query_param(self.url, self.page_query_param, self.number + 1)

    def get_previous_link(self) -> str | None:
        if self.number <= 1:
            return None
        if self.number == 2:
            return remove_query_param(self.url, self.page_query_param)
        return replace_query_param(self.url, self.page_query_param, self.number - 1)

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        described = super().get_paginated_response_schema(schema)
        described["properties"]["count"] = {
            "type": "integer",
            "nullable": True,
            "example": 123,
            "description": f"How many results match: exact up to {COUNT_CAP:,}, null when there are more "
            "(follow `next` to read them all).",
        }
        return described
