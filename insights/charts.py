"""Charts as inline SVG built on the server: no script, no network, nothing the CSP forbids.

Each chart has a title, axes with a scale, the value of every bar or point on hover (an SVG
<title>, which browsers show as a tooltip and screen readers read), and colours that stay
readable on white and for the common colour-vision deficiencies (an orange / blue / grey set).
The page shows the same figures in a table beside the chart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

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


def _svg(width: float, height: float, title: str, body: list[str], chart_id: str) -> SafeString:
    head = (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-labelledby="{chart_id}-title" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<text class="chart-title" x="0" y="16" font-size="14" font-weight="600">{escape(title)}</text>'
    )
    return mark_safe(head + "".join(body) + "</svg>")  # noqa: S308 - every text piece is escaped above


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
    body = []
    base_y = top + row * max(len(items), 1)
    for tick in _ticks(end, intervals):
        x = label_width + plot * tick / end
        body.append(f'<line class="chart-grid" x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{base_y}" />')
        body.append(
            f'<text class="chart-tick" x="{x:.1f}" y="{base_y + 16}" font-size="{FONT - 1}" '
            f'text-anchor="middle">{escape(_fmt(tick))}</text>'
        )
    body.append(f'<line class="chart-axis" x1="{label_width}" y1="{top - 4}" x2="{label_width}" y2="{base_y}" />')
    body.append(f'<line class="chart-axis" x1="{label_width}" y1="{base_y}" x2="{label_width + plot}" y2="{base_y}" />')
    if axis_label:
        body.append(
            f'<text class="chart-axis-label" x="{label_width + plot / 2:.1f}" y="{height - 4}" font-size="{FONT}" '
            f'text-anchor="middle">{escape(axis_label)}</text>'
        )
    if not items:
        body.append(f'<text class="chart-empty" x="{label_width + 8}" y="{top + 16}" font-size="{FONT}">No data</text>')
    for i, (label, value) in enumerate(items):
        y = top + i * row
        w = plot * value / end if end else 0
        tip = f"{label}: {_fmt(value, unit)}"
        body.append(
            f'<g class="chart-bar"><title>{escape(tip)}</title>'
            f'<text class="chart-label" x="{label_width - 8}" y="{y + row / 2 + 4:.1f}" font-size="{FONT}" '
            f'text-anchor="end">{escape(label)}</text>'
            f'<rect x="{label_width}" y="{y + 4}" width="{max(w, 1):.1f}" height="{row - 8}" rx="3" '
            f'fill="{COLOURS[0]}" />'
            f'<text class="chart-value" x="{label_width + w + 6:.1f}" y="{y + row / 2 + 4:.1f}" '
            f'font-size="{FONT}">{escape(_fmt(value, unit))}</text></g>'
        )
    return _svg(width, height, title, body, chart_id)


def _frame(
    series: Sequence[Series], labels: Sequence[str], end: float, axis_label: str, intervals: int = 4,
) -> tuple[list[str], dict[str, float]]:
    """The legend, the grid, both axes, the y scale and the month labels of a time chart."""
    width, height, left, right = 640, 270, 62, 16
    top = 52 if len(series) > 1 else 34
    plot_w, plot_h = width - left - right, height - top - 40
    base_y = top + plot_h
    body = _legend(series, 38, left)
    for tick in _ticks(end, intervals):
        y = base_y - plot_h * tick / end
        body.append(f'<line class="chart-grid" x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" />')
        body.append(
            f'<text class="chart-tick" x="{left - 6}" y="{y + 4:.1f}" font-size="{FONT - 1}" '
            f'text-anchor="end">{escape(_fmt(tick))}</text>'
        )
    body.append(f'<line class="chart-axis" x1="{left}" y1="{top}" x2="{left}" y2="{base_y}" />')
    body.append(f'<line class="chart-axis" x1="{left}" y1="{base_y}" x2="{left + plot_w}" y2="{base_y}" />')
    if axis_label:
        middle = top + plot_h / 2
        body.append(
            f'<text class="chart-axis-label" x="14" y="{middle:.1f}" font-size="{FONT}" text-anchor="middle" '
            f'transform="rotate(-90 14 {middle:.1f})">{escape(axis_label)}</text>'
        )
    slot = plot_w / max(len(labels), 1)
    for i, label in enumerate(labels):
        body.append(
            f'<text class="chart-tick" x="{left + i * slot + slot / 2:.1f}" y="{base_y + 16}" font-size="{FONT - 1}" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    return body, {"width": width, "height": height, "left": left, "base_y": base_y, "plot_h": plot_h, "slot": slot}


def column_chart(
    title: str, labels: Sequence[str], series: Sequence[Series], *, unit: str = "", axis_label: str = "",
    chart_id: str = "chart", integer: bool = False,
) -> SafeString:
    """Vertical columns per label (months), one column per series side by side, with a legend."""
    end, intervals = _scale([v for s in series for v in s.values], integer=integer, top_value=None)
    body, f = _frame(series, labels, end, axis_label, intervals)
    bar = f["slot"] * 0.7 / max(len(series), 1)
    for i, label in enumerate(labels):
        x0 = f["left"] + i * f["slot"] + f["slot"] * 0.15
        for j, s in enumerate(series):
            value = s.values[i]
            h = f["plot_h"] * (value or 0) / end
            tip = f"{s.name}, {label}: {_fmt(value, unit)}"
            body.append(
                f'<g class="chart-bar"><title>{escape(tip)}</title><rect x="{x0 + j * bar:.1f}" '
                f'y="{f["base_y"] - h:.1f}" width="{max(bar - 2, 1):.1f}" height="{max(h, 0):.1f}" '
                f'fill="{s.colour or COLOURS[j % len(COLOURS)]}" /></g>'
            )
    return _svg(f["width"], f["height"], title, body, chart_id)


def line_chart(
    title: str, labels: Sequence[str], series: Sequence[Series], *, unit: str = "", axis_label: str = "",
    chart_id: str = "chart", top_value: float | None = None, integer: bool = False,
) -> SafeString:
    """One line per series over the labels (months); a gap where a value is missing."""
    end, intervals = _scale([v for s in series for v in s.values], integer=integer, top_value=top_value)
    body, f = _frame(series, labels, end, axis_label, intervals)
    xs = [f["left"] + i * f["slot"] + f["slot"] / 2 for i in range(len(labels))]

    def y_of(v: float) -> float:
        return float(f["base_y"] - f["plot_h"] * v / end)

    for j, s in enumerate(series):
        colour = s.colour or COLOURS[j % len(COLOURS)]
        segments: list[list[str]] = [[]]
        for i, v in enumerate(s.values):
            if v is None:
                segments.append([])
            else:
                segments[-1].append(f"{xs[i]:.1f},{y_of(v):.1f}")
        for segment in segments:
            if len(segment) > 1:
                body.append(
                    f'<polyline points="{" ".join(segment)}" fill="none" stroke="{colour}" stroke-width="2.5" />'
                )
        for i, v in enumerate(s.values):
            if v is None:
                continue
            tip = f"{s.name}, {labels[i]}: {_fmt(v, unit)}"
            body.append(
                f'<g class="chart-point"><title>{escape(tip)}</title>'
                f'<circle cx="{xs[i]:.1f}" cy="{y_of(v):.1f}" r="4.5" fill="{colour}" stroke="#fff" '
                'stroke-width="1.5" /></g>'
            )
    return _svg(f["width"], f["height"], title, body, chart_id)


def _legend(series: Sequence[Series], y: int, x: int) -> list[str]:
    if len(series) < 2:
        return []
    body = []
    for j, s in enumerate(series):
        colour = s.colour or COLOURS[j % len(COLOURS)]
        body.append(
            f'<rect x="{x}" y="{y - 9}" width="11" height="11" rx="2" fill="{colour}" />'
            f'<text class="chart-legend" x="{x + 16}" y="{y + 1}" font-size="{FONT}">{escape(s.name)}</text>'
        )
        x += int(16 + CHAR_WIDTH * len(s.name) + 18)
    return body
