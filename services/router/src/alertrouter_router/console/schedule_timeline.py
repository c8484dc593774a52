"""A schedule's next 14 days as rows of bars (each layer with its restrictions, the overrides, and the result:
who is on call), laid out for an inline SVG drawn in the viewer's time zone. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from alertrouter_router.ownership.model import Schedule
from alertrouter_router.ownership.rotation import layer_pieces
from alertrouter_router.ownership.schedules import shifts_between
from alertrouter_router.ownership.timespec import TimeWindow

DAYS = 14
WIDTH = 1000  # the SVG's user units; it scales to the page's width
LABEL = 150  # left column for row names
ROW = 34
TICK_ROOM = 48  # a day label's width ("Wed 30" at the tick's 12 units, with room to spare) and its gap to the line
# Colour-blind-safe hues (Okabe-Ito), dark enough for white text on them.
PALETTE = ("#0060a8", "#b35c00", "#00795c", "#9e2f6e", "#5b4ba0", "#7a5c00", "#2f6f8f", "#8a3b12")


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    colour: str
    label: str  # shown inside when wide enough
    title: str  # the tooltip and the accessible text


@dataclass(frozen=True)
class Row:
    name: str
    note: str
    y: float
    bars: list[Bar]


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Timeline:
    rows: list[Row]
    ticks: list[Tick]
    now_x: float
    height: float
    width: int = WIDTH
    label_width: int = LABEL


def colours(schedule: Schedule) -> dict[str, str]:
    """One colour per person of the schedule, in the order they appear: neighbours never share a colour."""
    people = [p for layer in schedule.layers for p in layer.participants] + [o.user for o in schedule.overrides]
    return {user: PALETTE[i % len(PALETTE)] for i, user in enumerate(dict.fromkeys(people))}


def describe_window(window: TimeWindow) -> str:
    if window.start is not None and window.end is not None:
        return f"daily {window.start:%H:%M}-{window.end:%H:%M}"
    return f"{window.start_day} {window.start_time:%H:%M} - {window.end_day} {window.end_time:%H:%M}"


def _bars(
    items: list[tuple[datetime, datetime, str, str]],
    start: datetime,
    zone: ZoneInfo,
    scale: float,
    palette: dict[str, str],
) -> list[Bar]:
    bars = []
    for begin, finish, user, source in items:
        x = LABEL + (begin - start).total_seconds() * scale
        width = max((finish - begin).total_seconds() * scale, 1.5)
        span = f"{begin.astimezone(zone):%a %d %b %H:%M} - {finish.astimezone(zone):%a %d %b %H:%M}"
        bars.append(Bar(round(x, 1), round(width, 1), palette.get(user, "#4a5260"), user, f"{user}: {span} ({source})"))
    return bars


def _ticks(start: datetime, zone: ZoneInfo, scale: float) -> list[Tick]:
    """Local midnights of the viewer's zone, each labelled with its day; a midnight too near the right edge for
    its label keeps its line unlabelled (the label was cut off there: "Tue 2")."""
    local = start.astimezone(zone)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    ticks = []
    while (day - start).total_seconds() * scale < WIDTH - LABEL:
        x = LABEL + (day - start).total_seconds() * scale
        ticks.append(Tick(round(x, 1), f"{day:%a} {day.day}" if x + TICK_ROOM <= WIDTH else ""))
        day = (day + timedelta(days=1, hours=3)).replace(hour=0)  # DST-safe step to the next midnight
    return ticks


def build(schedule: Schedule, start: datetime, viewer_zone: str) -> Timeline:
    end = start + timedelta(days=DAYS)
    zone, schedule_zone = ZoneInfo(viewer_zone), ZoneInfo(schedule.time_zone)
    scale = (WIDTH - LABEL) / (end - start).total_seconds()
    palette = colours(schedule)
    rows: list[Row] = []
    for layer in schedule.layers:
        pieces = layer_pieces(layer, schedule_zone, start, end)
        note = ", ".join(["layer", *(describe_window(w) for w in layer.restrictions)])
        items = [(p.start, p.end, p.user_id, f"layer {layer.id}") for p in pieces]
        rows.append(Row(layer.id, note, 0, _bars(items, start, zone, scale, palette)))
    overrides = [o for o in schedule.overrides if o.start < end and o.end > start]
    items = [(max(o.start, start), min(o.end, end), o.user, f"override {o.id}") for o in overrides]
    rows.append(Row("Overrides", "", 0, _bars(items, start, zone, scale, palette)))
    final = [(s.start, s.end, s.user_id, s.source.replace(":", " ")) for s in shifts_between(schedule, start, end)]
    rows.append(Row("On call", "the result", 0, _bars(final, start, zone, scale, palette)))
    placed = [Row(r.name, r.note, 28 + i * (ROW + 8), r.bars) for i, r in enumerate(rows)]
    return Timeline(placed, _ticks(start, zone, scale), LABEL, 28 + len(rows) * (ROW + 8))
