"""Bar and line charts laid out for inline SVG, drawn by the server: no chart library, no script. Pure.

A chart is a fixed viewBox (``WIDTH`` by ``HEIGHT`` user units) that the page scales to its width; values are
placed on a "nice" axis (1, 2 or 5 x 10^n per step) starting at zero; an axis of counts has whole-number ticks
(no "2.5 incidents").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

WIDTH = 640
HEIGHT = 240
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 30, 40
# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies, AA contrast on white.
SERIES_COLOURS = ("#0060a8", "#b35c00", "#00795c", "#9e2f6e")


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str


@dataclass(frozen=True)
class Line:
    points: str  # SVG polyline points
    colour: str
    dots: list[Rect]  # small squares on the points, each with its value as a tooltip


@dataclass(frozen=True)
class Chart:
    title: str
    bars: list[Rect]
    lines: list[Line]
    x_labels: list[Label]
    y_ticks: list[Label]  # y is the gridline's position
    legend: list[tuple[str, str]]  # (name, colour)
    empty: bool
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 x 10^n at or above ``value`` (1 for nothing): the axis' top."""
    if value <= 0:
        return 1
    power = 10.0 ** math.floor(math.log10(value))
    return float(next(step * power for step in (1, 2, 5, 10) if step * power >= value))


def count_axis(value: float) -> tuple[float, int]:
    """The top and the number of steps of an axis of counts: a whole 1, 2 or 5 x 10^n per step, at most four
    steps (1 -> 0, 1; 3 -> 0, 1, 2, 3; 7 -> 0, 2, 4, 6, 8)."""
    step = max(1.0, nice_ceiling(value / 4))
    steps = max(1, math.ceil(value / step))
    return step * steps, steps


def _axis(top: float, unit: str, steps: int = 4) -> list[Label]:
    inner = HEIGHT - TOP - BOTTOM
    return [Label(LEFT - 6, TOP + inner - inner * i / steps, f"{top * i / steps:g}{unit}") for i in range(steps + 1)]


def _scale(value: float, top: float) -> float:
    inner = HEIGHT - TOP - BOTTOM
    return inner * value / top


def bar_chart(
    title: str, labels: list[str], series: dict[str, list[float]], unit: str = "", *, counts: bool = False
) -> Chart:
    """Grouped vertical bars: one group per label, one bar per series in it."""
    highest = max((v for values in series.values() for v in values), default=0)
    top, steps = count_axis(highest) if counts else (nice_ceiling(highest), 4)
    slot = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    width = slot * 0.8 / max(len(series), 1)
    bars = []
    for s, (name, values) in enumerate(series.items()):
        colour = SERIES_COLOURS[s % len(SERIES_COLOURS)]
        for i, value in enumerate(values):
            height = _scale(value, top)
            x = LEFT + i * slot + slot * 0.1 + s * width
            title_text = f"{labels[i]}: {value:g}{unit} {name}"
            bars.append(Rect(round(x, 1), round(HEIGHT - BOTTOM - height, 1), round(width, 1), round(height, 1),
                             colour, title_text))  # fmt: skip
    x_labels = [
        Label(round(LEFT + i * slot + slot / 2, 1), HEIGHT - BOTTOM + 16, text) for i, text in enumerate(labels)
    ]
    legend = [(name, SERIES_COLOURS[s % len(SERIES_COLOURS)]) for s, name in enumerate(series)]
    empty = not any(v for values in series.values() for v in values)
    return Chart(title, bars, [], x_labels, _axis(top, unit, steps), legend, empty)


def line_chart(title: str, labels: list[str], series: dict[str, list[float | None]], unit: str = "") -> Chart:
    """One line per series over the labels; a missing value (None) breaks nothing, it is just not drawn."""
    top = nice_ceiling(max((v for values in series.values() for v in values if v is not None), default=0))
    slot = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    lines = []
    for s, (name, values) in enumerate(series.items()):
        colour = SERIES_COLOURS[s % len(SERIES_COLOURS)]
        placed = [
            (LEFT + i * slot + slot / 2, HEIGHT - BOTTOM - _scale(v, top), f"{labels[i]}: {v:g}{unit} {name}")
            for i, v in enumerate(values)
            if v is not None
        ]
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in placed)
        dots = [Rect(round(x - 3, 1), round(y - 3, 1), 6, 6, colour, text) for x, y, text in placed]
        lines.append(Line(points, colour, dots))
    x_labels = [
        Label(round(LEFT + i * slot + slot / 2, 1), HEIGHT - BOTTOM + 16, text) for i, text in enumerate(labels)
    ]
    legend = [(name, SERIES_COLOURS[s % len(SERIES_COLOURS)]) for s, name in enumerate(series)]
    empty = not any(v is not None for values in series.values() for v in values)
    return Chart(title, [], lines, x_labels, _axis(top, unit), legend, empty)
