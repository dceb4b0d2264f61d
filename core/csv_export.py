"""CSV exports: one way to write a cell and one way to stream a file, for every list and table.

A cell is written as a spreadsheet user reads it: labels rather than codes, a date as ISO
8601, an amount as a plain number (its currency goes in a column of its own, see `amount_cells`).
A text cell that a spreadsheet would run as a formula (=, +, -, @ first) gets a leading quote
(CSV injection); a number never does.

`streamed_csv` writes rows as they come from an iterator (a queryset's `.iterator()`), through
Django's StreamingHttpResponse, so 100,000 rows never sit in memory. The body is written after
the view has returned, when the middleware has already put the request's time zone away: the
file's datetimes are written in the zone that was active when the response was made (the
user's), which `streamed_csv` keeps for the whole body.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.text import slugify

# Rows read from the database at a time by an export's `.iterator(chunk_size=EXPORT_CHUNK)`.
EXPORT_CHUNK = 2000

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
