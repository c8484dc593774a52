"""Who is on call: layers stacked bottom to top, overrides on top. Pure: every instant is passed in.

Later layers in the list are *higher*: where a higher layer is active (inside its restrictions, after its
start) it covers the layers below. An override puts its user on call from ``start`` to ``end``, replacing
whoever the layers chose, or only ``replaces`` when that user is the one on call.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from alertrouter_router.ownership.model import Override, Schedule
from alertrouter_router.ownership.people import User
from alertrouter_router.ownership.rotation import LayerPiece, layer_pieces

GAP_SEARCH = timedelta(days=8)  # weekly restriction windows repeat within this, so gaps end inside it


@dataclass(frozen=True)
class Shift:
    """One continuous assignment: a (part of a) turn of one layer, or one override."""

    user_id: str
    start: datetime
    end: datetime
    layer_id: str | None = None
    override_id: str | None = None

    @property
    def source(self) -> str:
        return f"override:{self.override_id}" if self.override_id else f"layer:{self.layer_id}"


@dataclass(frozen=True)
class OnCall:
    """The answer for one schedule at one instant, with the assignment that produced it and its bounds."""

    schedule_id: str
    at: datetime
    user_id: str | None
    user_name: str | None = None
    layer_id: str | None = None
    override_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _require_aware(instant: datetime, name: str) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")
    return instant.astimezone(UTC)


def _top_piece(pieces_by_layer: list[list[LayerPiece]], cursors: list[int], at: datetime) -> LayerPiece | None:
    found: LayerPiece | None = None
    for layer_index, pieces in enumerate(pieces_by_layer):
        cursor = cursors[layer_index]
        while cursor < len(pieces) and pieces[cursor].end <= at:
            cursor += 1
        cursors[layer_index] = cursor
        if cursor < len(pieces) and pieces[cursor].start <= at:
            found = pieces[cursor]
    return found


def _applicable_override(overrides: list[Override], at: datetime, base_user: str | None) -> Override | None:
    """Each override covering ``at`` that names no one, or names whoever is on call so far, takes over, until
    none does: "c replaces b" applies while b is on call through another override too, whichever of the two is
    listed first (config overrides come before API ones, API ones by start: the order decided who was paged).
    An override that replaces no one takes over at once, as it did; each applies at most once (no cycles). None
    hands the shift back to the person the layers chose: "b replaces a" with "a replaces b" is a swap, which
    chained back (a to b to a) paged each day's usual person while the shifts said an override put them there."""
    covering = [o for o in overrides if o.start <= at < o.end]
    chosen: Override | None = None
    current = base_user
    used: set[int] = set()
    while True:
        found = next(
            (
                i
                for i, o in enumerate(covering)
                if i not in used and o.replaces in (None, current) and (chosen is None or o.user != base_user)
            ),
            None,
        )
        if found is None:
            return chosen
        used.add(found)
        chosen = covering[found]
        current = chosen.user


def _segment(
    begin: datetime, finish: datetime, piece: LayerPiece | None, override: Override | None
) -> tuple[Shift, object] | None:
    if override is not None:
        return Shift(override.user, begin, finish, override_id=override.id), ("override", override.id)
    if piece is not None:
        return Shift(piece.user_id, begin, finish, layer_id=piece.layer_id), ("layer", piece.layer_id, piece.turn_start)
    return None


def _edges(
    pieces_by_layer: list[list[LayerPiece]], overrides: list[Override], start: datetime, end: datetime
) -> list[datetime]:
    """Every instant where the answer may change: the elementary intervals between them are uniform."""
    edges = {start, end}
    for pieces in pieces_by_layer:
        for piece in pieces:
            edges.update((piece.start, piece.end))
    for override in overrides:
        edges.update((max(override.start.astimezone(UTC), start), min(override.end.astimezone(UTC), end)))
    return sorted(edges)


def shifts_between(schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """Every assignment in ``[start, end)``, clipped to it, in order; gaps (nobody on call) are absent."""
    start, end = _require_aware(start, "start"), _require_aware(end, "end")
    if end <= start:
        return []
    zone = ZoneInfo(schedule.time_zone)
    pieces_by_layer = [layer_pieces(layer, zone, start, end) for layer in schedule.layers]
    overrides = [item for item in schedule.overrides if item.start < end and item.end > start]
    ordered = _edges(pieces_by_layer, overrides, start, end)
    cursors = [0] * len(pieces_by_layer)
    shifts: list[Shift] = []
    last_key: object = None
    for begin, finish in itertools.pairwise(ordered):
        top = _top_piece(pieces_by_layer, cursors, begin)
        base_user = top.user_id if top is not None else None
        segment = _segment(begin, finish, top, _applicable_override(overrides, begin, base_user))
        if segment is None:
            last_key = None
            continue
        shift, key = segment
        if shifts and key == last_key and shifts[-1].end == begin:
            previous = shifts[-1]
            shifts[-1] = Shift(previous.user_id, previous.start, finish, previous.layer_id, previous.override_id)
        else:
            shifts.append(shift)
        last_key = key
    return shifts


def search_radius(schedule: Schedule, at: datetime) -> timedelta:
    """A shift lies within one turn or one override, so this radius around ``at`` contains it; at most
    MAX_SEARCH, so an override for years (or one of an API's 5 days) reports ``since``/``until`` within it
    rather than making every lookup generate years of turns (an override to 2100: 1.6 s a call)."""
    radius = timedelta(days=1)
    for layer in schedule.layers:
        radius = max(radius, layer.turn.longest() + timedelta(hours=1))
    for override in schedule.overrides:
        if override.start <= at < override.end:
            radius = max(radius, override.end - override.start + timedelta(hours=1))
    return min(radius, MAX_SEARCH)


MAX_SEARCH = timedelta(days=400)  # longer than the longest turn (366 days) and its hour


def on_call_at(schedule: Schedule, users: Mapping[str, User], at: datetime) -> OnCall:
    """Who is on call for ``schedule`` at ``at``, through which layer or override, since and until when."""
    at = _require_aware(at, "at")
    radius = search_radius(schedule, at)
    for shift in shifts_between(schedule, at - radius, at + radius):
        if shift.start <= at < shift.end:
            user = users.get(shift.user_id)
            return OnCall(
                schedule_id=schedule.id,
                at=at,
                user_id=shift.user_id,
                user_name=user.name if user else None,
                layer_id=shift.layer_id,
                override_id=shift.override_id,
                since=shift.start,
                until=shift.end,
            )
    return _nobody(schedule, at, max(radius, GAP_SEARCH))


def _nobody(schedule: Schedule, at: datetime, radius: timedelta) -> OnCall:
    """A gap: bounded by the nearest shifts within the search radius, open-ended (None) beyond it."""
    before = shifts_between(schedule, at - radius, at)
    after = shifts_between(schedule, at, at + radius)
    return OnCall(
        schedule_id=schedule.id,
        at=at,
        user_id=None,
        since=before[-1].end if before else None,
        until=after[0].start if after else None,
    )
