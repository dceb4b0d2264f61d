"""CSV exports: one way to write a cell and one way to stream a file, for every list and table.

A cell is written as a spreadsheet user reads it: labels rather than codes, a date as ISO
8601, an amount as a plain number (its currency goes in a column of its own, see `amount_cells`).
A text cell that a spreadsheet would run as a formula (=, +, -, @ first) gets a leading quote
(CSV injection); a number never does.

`streamed_csv` writes rows as they come from an iterator, through Django's StreamingHttpResponse,
so 100,000 rows never sit in memory. An export reads its rows a chunk at a time, as tuples
(`values_list`, no model instances): `keyset_chunks` for a list ordered along an index, each
chunk one query that starts after the previous chunk's last row; `in_chunks` to cut a single
streamed query into chunks. What a row needs from other tables (counts, names, related rows)
is read once per chunk, over the chunk's ids, never once per row. The body is written after
the view has returned, when the middleware has already put the request's time zone away: the
file's datetimes are written in the zone that was active when the response was made (the
user's), which `streamed_csv` keeps for the whole body.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, tzinfo
from decimal import Decimal
from functools import reduce
from itertools import islice
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.text import slugify

# Rows read from the database at a time by an export (the CSV_EXPORT_CHUNK setting, which
# tests make small, overrides it).
EXPORT_CHUNK = 2000


def export_chunk() -> int:
    return int(getattr(settings, "CSV_EXPORT_CHUNK", EXPORT_CHUNK))


def after_row(order: Sequence[str], last: Sequence[Any]) -> Q:
    """The rows that come after `last` (its values of the `order` fields) in `order` ("-" for
    descending): (a, b) > (x, y) written as lookups, a > x or (a = x and b > y), with a leading
    a >= x that lets the database start its index scan at x rather than filter the whole index."""
    def step(name: str, value: Any, *, strict: bool) -> Q:
        lookup = ("lt" if name.startswith("-") else "gt") + ("" if strict else "e")
        return Q(**{f"{name.removeprefix('-')}__{lookup}": value})

    def equal(name: str, value: Any) -> Q:
        return Q(**{name.removeprefix("-"): value})

    later = [
        reduce(lambda q, i: q & equal(order[i], last[i]), range(k), step(order[k], last[k], strict=True))
        for k in range(len(order))
    ]
    return step(order[0], last[0], strict=False) & reduce(lambda a, b: a | b, later)


def keyset_chunks(
    queryset: QuerySet[Any], fields: Sequence[str], *, order: Sequence[str] = ("name", "pk"), size: int | None = None
) -> Iterator[list[tuple[Any, ...]]]:
    """The queryset's rows as tuples of `fields`, in `order`, `size` rows (`export_chunk()`)
    at a time. Each chunk is one query along the index on `order`, starting after the last row
    of the previous chunk (keyset paging): no long ordered query holding a cursor open, no
    OFFSET reading the skipped rows again. The `order` fields must be among `fields`, never
    null, and end with a unique one (the pk), so that no two rows tie. Rows written between two
    chunks are read or not as their key falls before or after the chunk being read."""
    size = size or export_chunk()
    keys = [list(fields).index(name.removeprefix("-")) for name in order]
    rows = queryset.order_by(*order).values_list(*fields)
    chunk = list(rows[:size])
    while chunk:
        yield chunk
        if len(chunk) < size:
            return
        last = chunk[-1]
        chunk = list(rows.filter(after_row(order, [last[i] for i in keys]))[:size])


def in_chunks(rows: Iterable[Any], size: int | None = None) -> Iterator[list[Any]]:
    """`rows` (a queryset's `.iterator()`) as lists of `size` (`export_chunk()`), for an export
    whose order has no index to page along: one query streamed, its related rows read per chunk."""
    size = size or export_chunk()
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def cell(value: Any, *, zone: tzinfo | None = None) -> str:
    """One value as CSV text: None is empty, datetimes are ISO minutes in `zone` (the current
    zone by default), dates ISO, decimals plain, booleans yes/no; text that would run as a
    formula is quoted."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        local = timezone.localtime(value, zone) if timezone.is_aware(value) else value
        return local.isoformat(timespec="minutes")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    text = str(value)
    if text[:1] in FORMULA_STARTS and not is_number(text):
        return "'" + text
    return text


def amount_cells(amount: Decimal | None, currency: str | None) -> list[str]:
    """An amount and its currency as two cells, so a spreadsheet can sum the first."""
    if amount is None:
        return ["", ""]
    return [cell(amount), currency or ""]


def filename(*parts: str) -> str:
    stamp = timezone.localtime().strftime("%Y-%m-%d")
    return slugify("-".join(["keepwarm", *parts, stamp])) + ".csv"


class _Echo:
    """csv.writer's file: hands each written line back instead of keeping it."""

    def write(self, value: str) -> str:
        return value


def csv_lines(
    header: Sequence[str], rows: Iterable[Sequence[Any]], *, zone: tzinfo | None = None
) -> Iterator[str]:
    writer = csv.writer(_Echo())
    # A byte-order mark, so that Excel opens UTF-8 accents correctly.
    yield "\ufeff" + writer.writerow([cell(h) for h in header])
    for row in rows:
        yield writer.writerow([cell(v, zone=zone) for v in row])


def streamed_csv(name: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> StreamingHttpResponse:
    """A CSV download written row by row as `rows` yields them, its datetimes in the zone
    active now (the request's), however late the body is written."""
    zone = timezone.get_current_timezone()
    response = StreamingHttpResponse(csv_lines(header, rows, zone=zone), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response
