"""Property tests of the on-call calculator against simple, independent oracles."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from alertrouter_router.ownership.schedules import on_call_at, shifts_between
from tests.router.unit.ownership_builders import layer, schedule

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "Asia/Kathmandu", "UTC"]
PEOPLE = ["p0", "p1", "p2", "p3", "p4"]

zones = st.sampled_from(ZONES)
participants = st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=5)
# Handoffs from 05:00 to 23:59 never fall inside a DST transition of these zones, so naive wall-clock
# arithmetic is an exact oracle for calendar turns.
local_starts = (
    st.datetimes(min_value=datetime(2023, 1, 1, 5), max_value=datetime(2025, 12, 31, 23, 59))
    .filter(lambda value: value.hour >= 5)
    .map(lambda value: value.replace(second=0, microsecond=0))
)
calendar_turns = st.integers(min_value=1, max_value=15)
hour_turns = st.integers(min_value=1, max_value=72)
offsets = st.integers(min_value=0, max_value=60 * 24 * 400)  # minutes after the start


@settings(max_examples=300, deadline=None)
@given(zones, participants, local_starts, calendar_turns, offsets)
def test_calendar_rotation_matches_wall_clock_oracle(
    zone: str, people: list[str], start: datetime, days: int, minutes: int
) -> None:
    info = ZoneInfo(zone)
    rotation = schedule(zone, [layer(participants=people, start=start.isoformat(), turn={"days": days})])
    at = datetime.combine(start.date(), start.time(), tzinfo=info).astimezone(UTC) + timedelta(minutes=minutes)
    wall = at.astimezone(info).replace(tzinfo=None)
    expected = people[((wall - start) // timedelta(days=days)) % len(people)]
    assert on_call_at(rotation, {}, at).user_id == expected


@settings(max_examples=200, deadline=None)
@given(zones, participants, local_starts, hour_turns, offsets)
def test_hour_rotation_matches_elapsed_time_oracle(
    zone: str, people: list[str], start: datetime, hours: int, minutes: int
) -> None:
    rotation = schedule(zone, [layer(participants=people, start=start.isoformat(), turn={"hours": hours})])
    begins = datetime.combine(start.date(), start.time(), tzinfo=ZoneInfo(zone)).astimezone(UTC)
    at = begins + timedelta(minutes=minutes)
    assert on_call_at(rotation, {}, at).user_id == people[(minutes // (hours * 60)) % len(people)]


turn_specs = st.one_of(
    st.builds(lambda n: {"days": n}, calendar_turns),
    st.builds(lambda n: {"hours": n}, hour_turns),
    st.builds(lambda n: {"weeks": n}, st.integers(min_value=1, max_value=3)),
)
layer_specs = st.lists(st.tuples(participants, turn_specs, local_starts), min_size=1, max_size=3)
window_starts = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31)).map(
    lambda value: value.replace(tzinfo=UTC)
)


def _build_layers(specs: list[tuple[list[str], dict[str, int], datetime]]) -> list[dict[str, Any]]:
    return [
        layer(f"layer{index}", people, start=start.isoformat(), turn=turn)
        for index, (people, turn, start) in enumerate(specs)
    ]


@settings(max_examples=150, deadline=None)
@given(zones, layer_specs, window_starts, st.integers(min_value=1, max_value=24 * 40))
def test_unrestricted_shifts_tile_the_interval(
    zone: str, specs: list[tuple[list[str], dict[str, int], datetime]], start: datetime, hours: int
) -> None:
    rotation = schedule(zone, _build_layers(specs))
    end = start + timedelta(hours=hours)
    shifts = shifts_between(rotation, start, end)
    assert shifts[0].start == start
    assert shifts[-1].end == end
    for previous, following in itertools.pairwise(shifts):
        assert previous.end == following.start
        assert previous.start < previous.end
    top = f"layer{len(specs) - 1}"
    assert all(shift.layer_id == top for shift in shifts)  # an unrestricted top layer covers everything


@settings(max_examples=150, deadline=None)
@given(
    zones,
    layer_specs,
    window_starts,
    st.integers(min_value=1, max_value=24 * 60),
    st.data(),
)
def test_overrides_win(
    zone: str,
    specs: list[tuple[list[str], dict[str, int], datetime]],
    start: datetime,
    minutes: int,
    data: st.DataObject,
) -> None:
    end = start + timedelta(minutes=minutes)
    override = {"id": "o", "user": "sub", "start": start.isoformat(), "end": end.isoformat()}
    plain = schedule(zone, _build_layers(specs))
    covered = schedule(zone, _build_layers(specs), [override])
    inside = start + timedelta(seconds=data.draw(st.integers(0, minutes * 60 - 1), label="offset"))
    answer = on_call_at(covered, {}, inside)
    assert (answer.user_id, answer.override_id, answer.since, answer.until) == ("sub", "o", start, end)
    for outside in (start - timedelta(minutes=1), end):
        assert on_call_at(covered, {}, outside).user_id == on_call_at(plain, {}, outside).user_id


restriction_specs = st.lists(
    st.tuples(st.integers(0, 23), st.integers(0, 23)).filter(lambda pair: pair[0] != pair[1]),
    min_size=0,
    max_size=1,
)


@settings(max_examples=150, deadline=None)
@given(zones, layer_specs, restriction_specs, window_starts, st.integers(min_value=0, max_value=60 * 24 * 20))
def test_on_call_at_agrees_with_shifts_between(
    zone: str,
    specs: list[tuple[list[str], dict[str, int], datetime]],
    windows: list[tuple[int, int]],
    start: datetime,
    minutes: int,
) -> None:
    layers = _build_layers(specs)
    layers[-1]["restrictions"] = [{"start": f"{a:02d}:00", "end": f"{b:02d}:00"} for a, b in windows]
    rotation = schedule(zone, layers)
    at = start + timedelta(minutes=minutes)
    answer = on_call_at(rotation, {}, at)
    containing = [
        s for s in shifts_between(rotation, at - timedelta(days=60), at + timedelta(days=60)) if s.start <= at < s.end
    ]
    if answer.user_id is None:
        assert containing == []
    else:
        assert len(containing) == 1
        shift = containing[0]
        assert (shift.user_id, shift.layer_id, shift.start, shift.end) == (
            answer.user_id,
            answer.layer_id,
            answer.since,
            answer.until,
        )
