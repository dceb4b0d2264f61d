"""core.csv_export: how a cell is written and that a download is streamed row by row."""

from __future__ import annotations

import csv
import io
import zoneinfo
from datetime import UTC, date, datetime
from decimal import Decimal

from django.http import StreamingHttpResponse
from django.utils import timezone

from core.csv_export import amount_cells, cell, streamed_csv


def test_cells_are_written_as_a_spreadsheet_reads_them() -> None:
    assert cell(None) == ""
    assert cell(True) == "yes"
    assert cell(date(2026, 5, 1)) == "2026-05-01"
    assert cell(Decimal("106160.00")) == "106160.00"
    assert cell("-12.5") == "-12.5"
    assert cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert cell("@SUM(A1)") == "'@SUM(A1)"
    assert amount_cells(Decimal("10.50"), "EUR") == ["10.50", "EUR"]
    assert amount_cells(None, "EUR") == ["", ""]


def test_a_download_streams_rows_as_the_iterator_yields_them() -> None:
    pulled: list[int] = []

    def rows():
        for i in range(3):
            pulled.append(i)
            yield [i, f"name {i}"]

    response = streamed_csv("x.csv", ["Id", "Name"], rows())
    assert isinstance(response, StreamingHttpResponse)
    assert pulled == []  # nothing is read before the body is
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(body))) == [["Id", "Name"], ["0", "name 0"], ["1", "name 1"], ["2", "name 2"]]
    assert response["Content-Disposition"] == 'attachment; filename="x.csv"'
    assert response["X-Content-Type-Options"] == "nosniff"


def test_a_streamed_files_times_are_in_the_zone_active_when_the_response_was_made() -> None:
    # The middleware deactivates the user's zone when the view returns, before the body is written.
    moment = datetime(2026, 12, 4, 12, 30, tzinfo=UTC)
    with timezone.override(zoneinfo.ZoneInfo("Europe/Paris")):
        response = streamed_csv("x.csv", ["When"], iter([[moment]]))
    with timezone.override(zoneinfo.ZoneInfo("America/New_York")):
        body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert body.splitlines()[1] == "2026-12-04T13:30+01:00"
    assert cell(moment, zone=zoneinfo.ZoneInfo("Asia/Tokyo")) == "2026-12-04T21:30+09:00"
