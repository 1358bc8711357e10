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
