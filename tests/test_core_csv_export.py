"""core.csv_export: how a cell is written, that a download is streamed row by row, and that
rows are read a chunk per query."""

from __future__ import annotations

import csv
import io
import zoneinfo
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.http import StreamingHttpResponse
from django.utils import timezone

from core.csv_export import amount_cells, cell, export_chunk, in_chunks, keyset_chunks, streamed_csv
from crm import services
from crm.models import Account


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


@pytest.mark.django_db
def test_keyset_chunks_read_every_row_once_in_order_a_chunk_per_query(
    rep: User, django_assert_num_queries
) -> None:
    # Ties on the name: the pk decides, so no row is skipped or read twice across a chunk's edge.
    for name in ["Beta", "Alpha", "Beta", "Beta", "Gamma"]:
        services.account_create(by=rep, name=name)
    accounts = Account.objects.filter(owner=rep)
    expected = list(accounts.order_by("name", "pk").values_list("pk", "name"))
    with django_assert_num_queries(3):  # 2 + 2 + 1 rows: the short chunk is the last
        chunks = list(keyset_chunks(accounts, ["pk", "name"], order=("name", "pk"), size=2))
    assert [len(c) for c in chunks] == [2, 2, 1]
    assert [row for chunk in chunks for row in chunk] == expected
    newest_first = list(keyset_chunks(accounts, ["name", "pk"], order=("-name", "-pk"), size=3))
    assert [(pk, name) for chunk in newest_first for name, pk in chunk] == expected[::-1]
    # A full chunk, then an empty read that ends it; none() asks nothing; no match, one read.
    with django_assert_num_queries(3):
        assert [len(c) for c in keyset_chunks(accounts, ["pk", "name"], size=5)] == [5]
        assert list(keyset_chunks(accounts.none(), ["pk", "name"], size=5)) == []
        assert list(keyset_chunks(accounts.filter(name="Zeta"), ["pk", "name"], size=5)) == []


def test_keyset_chunks_need_the_order_fields_among_the_fields() -> None:
    with pytest.raises(ValueError):
        next(keyset_chunks(Account.objects.all(), ["name"], order=("name", "pk")))


def test_in_chunks_cuts_rows_in_lists_of_the_size(settings) -> None:
    assert list(in_chunks(range(5), 2)) == [[0, 1], [2, 3], [4]]
    assert list(in_chunks([], 2)) == []
    settings.CSV_EXPORT_CHUNK = 3
    assert export_chunk() == 3
    assert list(in_chunks(range(4))) == [[0, 1, 2], [3]]
