"""Geometry of the report's server-rendered SVG charts (the templates only draw it).

Coordinates are in SVG user units; the SVG scales to the page width via its
viewBox. Colours come from classes in static/css/app.css (the CSP forbids
inline styles).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

NAME_CHARS = 14


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    label: str  # the value, written above the bar
    title: str  # the tooltip: what and how much


# Tick and XLabel are declarations: their likeness to other small frozen dataclasses is shape only.
@dataclass(frozen=True)
class Tick:
    """A gridline of the y axis, at height `y`, with its value."""

    y: float
    label: str


@dataclass(frozen=True)
class XLabel:
    """A label under the x axis, centred at `x`; `title`: its tooltip, e.g. the full name of a cut one."""

    x: float
    label: str
    title: str = ""


@dataclass(frozen=True)
class Point:
    """A point of the line panel, with its tooltip."""

    x: float
    y: float
    title: str


@dataclass
class Chart:
    width: float
    height: float
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float
    ticks: list[Tick] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    x_labels: list[XLabel] = field(default_factory=list)
    # A second panel under the first (the queue chart's longest waits).
    line_top: float = 0
    line_bottom: float = 0
    line_ticks: list[Tick] = field(default_factory=list)
    line_points: list[Point] = field(default_factory=list)

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.line_points)


@dataclass(frozen=True)
class ShareGroup:
    name: str
    configured: float  # 0..1
    actual: float  # 0..1
    configured_title: str
    actual_title: str


def share_chart(groups: Sequence[ShareGroup], percent: Callable[[float], str]) -> Chart:
    """Grouped bars, configured against actual share, one group per operator."""
    left, right, top, plot_height, bottom = 48.0, 12.0, 40.0, 170.0, 46.0
    group_width, bar_width, gap = 104.0, 34.0, 6.0
    width = max(360.0, left + right + group_width * max(len(groups), 1))
    chart = Chart(width, top + plot_height + bottom, left, width - right, top, top + plot_height)
    highest = max([g.configured for g in groups] + [g.actual for g in groups] + [0.0])
    step = 0.1 if highest <= 0.5 else 0.2
    y_max = min(1.0, max(step, math.ceil(round(highest / step, 6)) * step))

    def y_of(value: float) -> float:
        return chart.plot_bottom - plot_height * min(value, y_max) / y_max

    chart.ticks = [Tick(y_of(i * step), percent(i * step)) for i in range(round(y_max / step) + 1)]
    groups_left = left + (chart.plot_right - left - group_width * len(groups)) / 2
    for i, group in enumerate(groups):
        center = groups_left + group_width * (i + 0.5)
        for value, css, offset, title in (
            (group.configured, "bar-configured", -bar_width - gap / 2, group.configured_title),
            (group.actual, "bar-actual", gap / 2, group.actual_title),
        ):
            y = y_of(value)
            chart.bars.append(
                Bar(center + offset, y, bar_width, chart.plot_bottom - y, css, percent(value), title)
            )
        chart.x_labels.append(XLabel(center, _short(group.name), group.name))
    return chart


@dataclass(frozen=True)
class QueuePoint:
    label: str  # the day, as the page writes it
    waiting: int
    longest_wait: float | None  # seconds


def queue_chart(
    days: Sequence[QueuePoint],
    wait_unit: tuple[float, Callable[[float], str]],
    waiting_title: Callable[[QueuePoint], str],
    wait_title: Callable[[QueuePoint], str],
) -> Chart:
    """Bars of the waiting count per day, and under them a line of the longest wait.

    `wait_unit` is (seconds per unit, label of a number of units) for the
    line's axis, chosen by the caller for the largest wait.
    """
    left, right, top, bars_height, gap, line_height, bottom = 76.0, 12.0, 30.0, 130.0, 40.0, 110.0, 34.0
    plot_width = 720.0
    width = left + plot_width + right
    height = top + bars_height + gap + line_height + bottom
    chart = Chart(width, height, left, left + plot_width, top, top + bars_height)
    chart.line_top = chart.plot_bottom + gap
    chart.line_bottom = chart.line_top + line_height
    slot = plot_width / max(len(days), 1)
    bar_width = max(1.0, slot * 0.7)

    count_max, count_step = _nice_axis(max([d.waiting for d in days] + [0]))
    chart.ticks = [
        Tick(chart.plot_bottom - bars_height * v / count_max, _int_label(v))
        for v in _steps(count_max, count_step)
    ]
    seconds, unit_label = wait_unit
    waits = [d.longest_wait / seconds for d in days if d.longest_wait is not None]
    wait_max, wait_step = _nice_axis(max(waits + [0.0]), steps=3)
    chart.line_ticks = [
        Tick(chart.line_bottom - line_height * v / wait_max, unit_label(v))
        for v in _steps(wait_max, wait_step)
    ]
    every = max(1, math.ceil(len(days) / 8))
    for i, day in enumerate(days):
        center = left + slot * (i + 0.5)
        if day.waiting:
            height = bars_height * day.waiting / count_max
            chart.bars.append(
                Bar(center - bar_width / 2, chart.plot_bottom - height, bar_width, height, "bar-waiting",
                    str(day.waiting), waiting_title(day))
            )
        if day.longest_wait is not None:
            y = chart.line_bottom - line_height * min(day.longest_wait / seconds, wait_max) / wait_max
            chart.line_points.append(Point(center, y, wait_title(day)))
        if i % every == 0:
            chart.x_labels.append(XLabel(center, day.label))
    return chart


def _nice_axis(highest: float, steps: int = 4) -> tuple[float, float]:
    """An axis maximum in whole steps of 1, 2 or 5 × 10^k (about `steps` of them) at or above `highest`."""
    highest = max(highest, 1.0)  # counts and waits in whole units at least
    raw = highest / steps
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(step, 1.0)
    return math.ceil(round(highest / step, 6)) * step, step


def _steps(maximum: float, step: float) -> list[float]:
    return [i * step for i in range(round(maximum / step) + 1)]


def _int_label(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _short(name: str) -> str:
    return name if len(name) <= NAME_CHARS else name[: NAME_CHARS - 1].rstrip() + "…"


# --- horizontal bars, one row per operator (the team report) ---------------------------------


@dataclass(frozen=True)
class TextAt:
    """A text of a row chart at (x, y); `anchor` as SVG's text-anchor; `title`: its tooltip."""

    x: float
    y: float
    text: str
    anchor: str = "start"
    title: str = ""


@dataclass(frozen=True)
class LegendKey:
    x: float
    css: str
    label: str


@dataclass
class RowChart:
    """One row per operator: names on the left, bars along a value axis with gridlines."""

    width: float
    height: float
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float
    grid: list[XLabel] = field(default_factory=list)  # vertical gridlines at x, with their values
    bars: list[Bar] = field(default_factory=list)
    texts: list[TextAt] = field(default_factory=list)
    legend: list[LegendKey] = field(default_factory=list)


@dataclass(frozen=True)
class SpreadRow:
    """An operator's median and 90th percentile of a duration (seconds; None: no contact had it)."""

    name: str
    median: float | None
    p90: float | None
    median_title: str
    p90_title: str


ROW_LEFT, ROW_TOP, ROW_BOTTOM = 124.0, 34.0, 26.0


def spread_chart(
    rows: Sequence[SpreadRow],
    unit: tuple[float, Callable[[float], str]],
    duration: Callable[[float], str],
    legend: tuple[str, str],
) -> RowChart:
    """Per operator a bar to the median over a bar to the 90th percentile, each with its value after it.

    `unit` (seconds per unit, label of a number of units) is the axis's,
    `duration` writes a value, `legend` names the two bars.
    """
    plot_width, right, line = 230.0, 86.0, 13.0
    row_height = 2 * line + 12
    chart = _row_chart(len(rows), plot_width, right, row_height)
    seconds, unit_label = unit
    highest = max([r.p90 for r in rows if r.p90 is not None] + [0.0]) / seconds
    axis_max, step = _nice_axis(highest, steps=4)

    def x_of(value: float) -> float:
        return ROW_LEFT + plot_width * min(value / seconds, axis_max) / axis_max

    chart.grid = [XLabel(x_of(v * seconds), unit_label(v)) for v in _steps(axis_max, step)]
    chart.legend = _legend(chart, [("bar-actual", legend[0]), ("bar-configured", legend[1])])
    for i, row in enumerate(rows):
        top = chart.plot_top + row_height * i + 6
        _row_name(chart, row.name, top + line + 4)
        for n, (value, css, title) in enumerate(
            ((row.median, "bar-actual", row.median_title), (row.p90, "bar-configured", row.p90_title))
        ):
            y = top + line * n
            if value is None:
                chart.texts.append(TextAt(ROW_LEFT + 4, y + line - 3, "—", title=title))
                continue
            end = x_of(value)
            chart.bars.append(Bar(ROW_LEFT, y, max(end - ROW_LEFT, 1.0), line - 2, css, "", title))
            chart.texts.append(TextAt(max(end, ROW_LEFT + 1) + 4, y + line - 3, duration(value), title=title))
    return chart


@dataclass(frozen=True)
class ShareSegment:
    css: str
    share: float  # 0..1
    title: str


@dataclass(frozen=True)
class StackRow:
    """An operator's shares (summing to 1, or none), and the note after its bar (e.g. how many)."""

    name: str
    segments: list[ShareSegment]
    note: str


def stack_chart(rows: Sequence[StackRow], legend: Sequence[tuple[str, str]],
                percent: Callable[[float], str]) -> RowChart:
    """Per operator one bar of 100 % split into shares (an outcome each), its count after it.

    `legend`: (css, label) of each kind of segment, in order.
    """
    plot_width, right, height = 240.0, 96.0, 22.0
    row_height = height + 10
    chart = _row_chart(len(rows), plot_width, right, row_height)
    chart.grid = [XLabel(ROW_LEFT + plot_width * v, percent(v)) for v in (0.0, 0.5, 1.0)]
    chart.legend = _legend(chart, legend)
    for i, row in enumerate(rows):
        top = chart.plot_top + row_height * i + 5
        _row_name(chart, row.name, top + height / 2 + 4)
        x = ROW_LEFT
        for segment in row.segments:
            width = plot_width * segment.share
            if width <= 0:
                continue
            label = percent(segment.share) if width >= 34 else ""
            chart.bars.append(Bar(x, top, width, height, segment.css, label, segment.title))
            x += width
        chart.texts.append(TextAt(ROW_LEFT + plot_width + 6, top + height / 2 + 4, row.note))
    return chart


def _row_chart(rows: int, plot_width: float, right: float, row_height: float) -> RowChart:
    plot_bottom = ROW_TOP + row_height * max(rows, 1)
    return RowChart(ROW_LEFT + plot_width + right, plot_bottom + ROW_BOTTOM, ROW_LEFT, ROW_LEFT + plot_width,
                    ROW_TOP, plot_bottom)


def _legend(chart: RowChart, keys: Sequence[tuple[str, str]]) -> list[LegendKey]:
    """Keys side by side across the whole width, above the plot."""
    each = (chart.width - 8) / max(len(keys), 1)
    return [LegendKey(4 + each * i, css, label) for i, (css, label) in enumerate(keys)]


def _row_name(chart: RowChart, name: str, y: float) -> None:
    chart.texts.append(TextAt(ROW_LEFT - 8, y, _short(name), "end", name if _short(name) != name else ""))
