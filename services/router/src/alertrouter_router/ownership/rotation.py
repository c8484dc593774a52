"""Arithmetic of one rotation layer: its turns and its restriction windows as UTC intervals.

Calendar turns and windows are computed in the schedule's wall time and only then converted to instants,
which keeps a 09:00 handoff at 09:00 local on both DST nights. A wall time that does not exist (spring
forward) maps to the instant just after the gap, as PEP 495 ``fold=0`` does; an ambiguous one (fall back)
maps to its first occurrence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from alertrouter_router.ownership.model import Layer
from alertrouter_router.ownership.timespec import TimeWindow

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class LayerPiece:
    """A stretch of one participant's turn during which the layer is active."""

    start: datetime
    end: datetime
    user_id: str
    layer_id: str
    turn_start: datetime


def wall_to_utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def local_start(layer: Layer, zone: ZoneInfo) -> datetime:
    """The layer's start as naive wall time in the schedule zone (an aware start is converted)."""
    if layer.start.tzinfo is not None:
        return layer.start.astimezone(zone).replace(tzinfo=None)
    return layer.start


@dataclass(frozen=True)
class _Boundaries:
    """Turn boundaries ``at(k)``, increasing in k; turn ``k`` belongs to participant ``(k - first) % n``."""

    at: Callable[[int], datetime]
    index_at: Callable[[datetime], int]
    first: int
    begins: datetime


def _calendar_boundaries(layer: Layer, zone: ZoneInfo) -> _Boundaries:
    start = local_start(layer, zone)
    # fold=0: a start written with the offset of a repeated hour's second occurrence is that instant, but its
    # time of day as the default handoff is taken at its first occurrence on every later fall-back day, as written
    handoff = layer.handoff_time or start.time().replace(fold=0)
    anchor = start.date()
    step = layer.turn.days
    begins = wall_to_utc(start.date(), start.time(), zone)

    def at(k: int) -> datetime:
        return wall_to_utc(anchor + timedelta(days=k * step), handoff, zone)

    def index_at(instant: datetime) -> int:
        k = (instant.astimezone(zone).date() - anchor).days // step
        while at(k) > instant:
            k -= 1
        while at(k + 1) <= instant:
            k += 1
        return k

    return _Boundaries(at, index_at, index_at(begins), begins)


def _elapsed_boundaries(layer: Layer, zone: ZoneInfo) -> _Boundaries:
    start = local_start(layer, zone)
    begins = wall_to_utc(start.date(), start.time(), zone)
    length = timedelta(seconds=layer.turn.seconds)

    def at(k: int) -> datetime:
        return begins + k * length

    def index_at(instant: datetime) -> int:
        return (instant - begins) // length

    return _Boundaries(at, index_at, 0, begins)


def _boundaries(layer: Layer, zone: ZoneInfo) -> _Boundaries:
    return _calendar_boundaries(layer, zone) if layer.turn.is_calendar else _elapsed_boundaries(layer, zone)


def layer_turns(layer: Layer, zone: ZoneInfo, start: datetime, end: datetime) -> list[LayerPiece]:
    """Every turn of the layer intersecting ``[start, end)``, clipped to it, ignoring restrictions."""
    bounds = _boundaries(layer, zone)
    begin = max(start, bounds.begins)
    if begin >= end or not layer.participants:
        return []
    turns: list[LayerPiece] = []
    k = bounds.index_at(begin)
    while True:
        turn_start, turn_end = max(bounds.at(k), bounds.begins), bounds.at(k + 1)
        if turn_start >= end:
            return turns
        user = layer.participants[(k - bounds.first) % len(layer.participants)]
        turns.append(LayerPiece(max(turn_start, begin), min(turn_end, end), user, layer.id, turn_start))
        k += 1


def merge_intervals(intervals: list[Interval]) -> list[Interval]:
    """Sorted union of half-open intervals; touching intervals are joined."""
    merged: list[Interval] = []
    for begin, finish in sorted(intervals):
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], finish))
        else:
            merged.append((begin, finish))
    return merged


def window_intervals(windows: list[TimeWindow], zone: ZoneInfo, start: datetime, end: datetime) -> list[Interval]:
    """The recurring windows as merged UTC intervals clipped to ``[start, end)``."""
    first_day = start.astimezone(zone).date() - timedelta(days=8)
    monday = first_day - timedelta(days=first_day.weekday())
    last_day = end.astimezone(zone).date() + timedelta(days=1)
    raw: list[Interval] = []
    while monday <= last_day:
        for window in windows:
            for begin_minute, end_minute in window.week_minutes():
                raw.append((_week_wall(monday, begin_minute, zone), _week_wall(monday, end_minute, zone)))
        monday += timedelta(days=7)
    clipped = [(max(begin, start), min(finish, end)) for begin, finish in merge_intervals(raw)]
    return [(begin, finish) for begin, finish in clipped if begin < finish]


def _week_wall(monday: date, minute: int, zone: ZoneInfo) -> datetime:
    day = monday + timedelta(days=minute // 1440)
    return wall_to_utc(day, time((minute % 1440) // 60, minute % 60), zone)


def layer_pieces(layer: Layer, zone: ZoneInfo, start: datetime, end: datetime) -> list[LayerPiece]:
    """Turns intersected with the layer's restriction windows: where the layer puts someone on call."""
    turns = layer_turns(layer, zone, start, end)
    if not layer.restrictions or not turns:
        return turns
    windows = window_intervals(layer.restrictions, zone, start, end)
    pieces: list[LayerPiece] = []
    index = 0
    for turn in turns:
        while index < len(windows) and windows[index][1] <= turn.start:
            index += 1
        probe = index
        while probe < len(windows) and windows[probe][0] < turn.end:
            begin, finish = max(turn.start, windows[probe][0]), min(turn.end, windows[probe][1])
            if begin < finish:
                pieces.append(LayerPiece(begin, finish, turn.user_id, turn.layer_id, turn.turn_start))
            probe += 1
    return pieces
