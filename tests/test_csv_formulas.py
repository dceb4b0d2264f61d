"""CSV exports neutralise formulas: a name typed as `=HYPERLINK(...)` must reach a spreadsheet as
text, not run as a formula (CSV injection), while numbers, negative ones included, stay numbers."""

from __future__ import annotations

import csv
import io

import pytest

from insights.tables import Cell, Column, Table, csv_response


def exported(*values: str) -> list[str]:
    table = Table(name="t", title="T", columns=[Column(label=f"c{i}") for i in range(len(values))],
                  rows=[[Cell(text=v, raw=v) for v in values]])
    response = csv_response(table, dashboard="test", stamp="now")
    return list(csv.reader(io.StringIO(response.getvalue().decode("utf-8-sig"))))[1]


@pytest.mark.parametrize("value", ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)"])
def test_a_cell_that_a_spreadsheet_would_run_is_exported_as_text(value):
    assert exported(value) == ["'" + value]


@pytest.mark.parametrize("value", ["-12.5", "42", "Acme = best", "a@b.example"])
def test_numbers_and_ordinary_text_are_exported_as_they_are(value):
    assert exported(value) == [value]
