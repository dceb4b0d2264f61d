"""Charts as inline SVG rendered on the server: no script, no network, nothing the CSP forbids.

Each chart has a title, axes with a scale, the value of every bar or point on hover (an SVG
<title>, which browsers show as a tooltip and screen readers read), and colours that stay
readable on white and for the common colour-vision deficiencies (an orange / blue / grey set).
The page shows the same figures in a table beside the chart.

This module works out the geometry (every coordinate as the text the SVG carries); the
templates under insights/charts/ draw it, escaping every label.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string
from django.utils.safestring import SafeString

# Orange (the brand accent), blue and a dark grey: distinguishable with protanopia and
# deuteranopia, each at least 3:1 against white.
COLOURS = ["#c4531f", "#1d5fa7", "#4b5563", "#1f7a4d"]
FONT = 12
CHAR_WIDTH = 7.2  # a generous average glyph width of the UI font at 12px, to size the label column


@dataclass
class Series:
    name: str
    values: Sequence[float | None]
    colour: str = ""


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 x 10^n at or above `value` (a readable axis end)."""
    if value <= 0:
        return 1
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value - 1e-9:
            return float(candidate)
    return float(10 ** (exponent + 1))


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "no data"
    text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{text}{unit}"


def _scale(values: Sequence[float | None], *, integer: bool, top_value: float | None) -> tuple[float, int]:
    """The axis end and the number of intervals: whole numbers only for counts."""
    end = top_value or nice_ceiling(max([v for v in values if v is not None] + [0]))
    if not integer:
        # Steps of 1, 2 or 5 x 10^n: an axis to 50 reads 0, 10, 20..., not 12.5, 25...
        lead = end / 10 ** math.floor(math.log10(end))
        return end, 4 if round(lead, 6) == 2 else 5
    end = max(end, 2)
    return end, int(end) if end <= 5 else 5


def _ticks(top: float, count: int = 4) -> list[float]:
    return [top * i / count for i in range(count + 1)]


def _render(template: str, *, width: float, height: float, title: str, chart_id: str, **context: Any) -> SafeString:
    return render_to_string(f"insights/charts/{template}", {
        "width": width, "height": height, "title": title, "chart_id": chart_id, "font": FONT,
        "small_font": FONT - 1, **context,
    })


def bar_chart(
    title: str, items: Sequence[tuple[str, float]], *, unit: str = "", axis_label: str = "", chart_id: str = "chart",
    max_items: int = 25, integer: bool = False, top_value: float | None = None, width: int = 640,
) -> SafeString:
    """Horizontal bars, one per (label, value), labels on the left, the value at the bar's end."""
    items = list(items)[:max_items]
    label_width = int(min(220, max([CHAR_WIDTH * len(label) for label, _ in items] + [60]) + 14))
    row, top = 26, 34
    plot = width - label_width - 60
    height = top + row * max(len(items), 1) + 42
    end, intervals = _scale([v for _, v in items], integer=integer, top_value=top_value)
    base_y = top + row * max(len(items), 1)
    bars = []
    for i, (label, value) in enumerate(items):
        y = top + i * row
        w = plot * value / end if end else 0
        bars.append({
            "label": label, "tip": f"{label}: {_fmt(value, unit)}", "value": _fmt(value, unit),
            "text_y": f"{y + row / 2 + 4:.1f}", "rect_y": y + 4, "rect_width": f"{max(w, 1):.1f}",
            "rect_height": row - 8, "value_x": f"{label_width + w + 6:.1f}",
        })
    return _render(
        "bar.html", width=width, height=height, title=title, chart_id=chart_id,
        ticks=[{"x": f"{label_width + plot * tick / end:.1f}", "label": _fmt(tick)} for tick in _ticks(end, intervals)],
        grid_top=top - 4, base_y=base_y, tick_y=base_y + 16, left=label_width, right=label_width + plot,
        label_x=label_width - 8, axis_label=axis_label, axis_label_x=f"{label_width + plot / 2:.1f}",
        axis_label_y=height - 4, empty_x=label_width + 8, empty_y=top + 16, bars=bars, colour=COLOURS[0],
    )


@dataclass
class _Frame:
    """The legend, the grid, both axes, the y scale and the month labels of a time chart."""

    width: int
    height: int
    left: int
    base_y: int
    plot_h: int
    slot: float
    context: dict[str, Any]


def _frame(
    series: Sequence[Series], labels: Sequence[str], end: float, axis_label: str, intervals: int = 4,
) -> _Frame:
    width, height, left, right = 640, 270, 62, 16
    top = 52 if len(series) > 1 else 34
    plot_w, plot_h = width - left - right, height - top - 40
    base_y = top + plot_h
    slot = plot_w / max(len(labels), 1)
    middle = f"{top + plot_h / 2:.1f}"
    context = {
        "legend": _legend(series, 38, left), "left": left, "right": left + plot_w, "top": top, "base_y": base_y,
        "tick_x": left - 6, "month_y": base_y + 16, "axis_label": axis_label, "axis_label_y": middle,
        "ticks": [
            {"y": f"{base_y - plot_h * tick / end:.1f}", "text_y": f"{base_y - plot_h * tick / end + 4:.1f}",
             "label": _fmt(tick)}
            for tick in _ticks(end, intervals)
        ],
        "months": [{"x": f"{left + i * slot + slot / 2:.1f}", "label": label} for i, label in enumerate(labels)],
    }
    return _Frame(width, height, left, base_y, plot_h, slot, context)


def column_chart(
    title: str, labels: Sequence[str], series: Sequence[Series], *, unit: str = "", axis_label: str = "",
    chart_id: str = "chart", integer: bool = False,
) -> SafeString:
    """Vertical columns per label (months), one column per series side by side, with a legend."""
    end, intervals = _scale([v for s in series for v in s.values], integer=integer, top_value=None)
    f = _frame(series, labels, end, axis_label, intervals)
    bar = f.slot * 0.7 / max(len(series), 1)
    columns = []
    for i, label in enumerate(labels):
        x0 = f.left + i * f.slot + f.slot * 0.15
        for j, s in enumerate(series):
            value = s.values[i]
            h = f.plot_h * (value or 0) / end
            columns.append({
                "tip": f"{s.name}, {label}: {_fmt(value, unit)}", "x": f"{x0 + j * bar:.1f}",
                "y": f"{f.base_y - h:.1f}", "width": f"{max(bar - 2, 1):.1f}", "height": f"{max(h, 0):.1f}",
                "colour": s.colour or COLOURS[j % len(COLOURS)],
            })
    return _render("column.html", width=f.width, height=f.height, title=title, chart_id=chart_id,
                   columns=columns, **f.context)


def line_chart(
    title: str, labels: Sequence[str], series: Sequence[Series], *, unit: str = "", axis_label: str = "",
    chart_id: str = "chart", top_value: float | None = None, integer: bool = False,
) -> SafeString:
    """One line per series over the labels (months); a gap where a value is missing."""
    end, intervals = _scale([v for s in series for v in s.values], integer=integer, top_value=top_value)
    f = _frame(series, labels, end, axis_label, intervals)
    xs = [f.left + i * f.slot + f.slot / 2 for i in range(len(labels))]

    def y_of(v: float) -> float:
        return float(f.base_y - f.plot_h * v / end)

    drawn = []  # per series, its lines then its points (a later series is drawn over an earlier one)
    for j, s in enumerate(series):
        colour = s.colour or COLOURS[j % len(COLOURS)]
        segments: list[list[str]] = [[]]
        for i, v in enumerate(s.values):
            if v is None:
                segments.append([])
            else:
                segments[-1].append(f"{xs[i]:.1f},{y_of(v):.1f}")
        drawn.append({
            "colour": colour,
            "lines": [" ".join(segment) for segment in segments if len(segment) > 1],
            "points": [
                {"tip": f"{s.name}, {labels[i]}: {_fmt(v, unit)}", "x": f"{xs[i]:.1f}", "y": f"{y_of(v):.1f}"}
                for i, v in enumerate(s.values) if v is not None
            ],
        })
    return _render("line.html", width=f.width, height=f.height, title=title, chart_id=chart_id, series=drawn,
                   **f.context)


def _legend(series: Sequence[Series], y: int, x: int) -> list[dict[str, Any]]:
    if len(series) < 2:
        return []
    entries = []
    for j, s in enumerate(series):
        entries.append({"x": x, "text_x": x + 16, "name": s.name, "colour": s.colour or COLOURS[j % len(COLOURS)]})
        x += int(16 + CHAR_WIDTH * len(s.name) + 18)
    return [{**e, "y": y - 9, "text_y": y + 1} for e in entries]
