"""Table-driven tests of the on-call calculator with fixed instants, DST nights and odd-offset zones."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from alertrouter_router.ownership.schedules import MAX_SEARCH, on_call_at, search_radius, shifts_between
from tests.router.unit.ownership_builders import berlin, layer, local, schedule, utc

BERLIN_DAILY = schedule(layers=[layer(participants=["a", "b", "c"], start="2024-01-01T09:00:00")])


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (berlin(2024, 1, 1, 8, 59), None),  # before the rotation starts
        (berlin(2024, 1, 1, 9, 0), "a"),
        (berlin(2024, 1, 2, 8, 59), "a"),
        (berlin(2024, 1, 2, 9, 0), "b"),
        (berlin(2024, 1, 3, 23, 0), "c"),
        (berlin(2024, 1, 4, 9, 0), "a"),
        (berlin(2024, 3, 31, 9, 0), "a"),  # day 90 after DST began: 90 % 3 == 0
        (berlin(2024, 10, 26, 9, 0), "c"),  # day 299
        (berlin(2025, 1, 1, 9, 0), "a"),  # day 366 (2024 is a leap year)
    ],
)
def test_daily_rotation_in_berlin(at: datetime, expected: str | None) -> None:
    assert on_call_at(BERLIN_DAILY, {}, at).user_id == expected


def test_on_call_reports_layer_and_bounds_of_the_turn() -> None:
    answer = on_call_at(BERLIN_DAILY, {}, berlin(2024, 1, 2, 15, 0))
    assert (answer.user_id, answer.layer_id, answer.override_id) == ("b", "l1", None)
    assert answer.since == berlin(2024, 1, 2, 9, 0)
    assert answer.until == berlin(2024, 1, 3, 9, 0)


DST_NIGHTS = [
    # zone, a day whose 09:00-09:00 turn contains the transition, its real length in hours
    ("Europe/Berlin", (2024, 3, 30), 23),
    ("Europe/Berlin", (2024, 10, 26), 25),
    ("America/New_York", (2024, 3, 9), 23),
    ("America/New_York", (2024, 11, 2), 25),
    ("Australia/Sydney", (2024, 10, 5), 23),
    ("Australia/Sydney", (2024, 4, 6), 25),
]


@pytest.mark.parametrize(("zone", "day", "hours"), DST_NIGHTS)
def test_daily_handoff_stays_at_nine_local_across_dst(zone: str, day: tuple[int, int, int], hours: int) -> None:
    rotation = schedule(zone, [layer(participants=["a", "b"], start="2024-01-01T00:00:00", handoff_time="09:00")])
    noon = local(zone, *day, 12, 0)
    answer = on_call_at(rotation, {}, noon)
    assert answer.since is not None and answer.until is not None
    assert answer.until - answer.since == timedelta(hours=hours)
    for shift in shifts_between(rotation, noon - timedelta(days=3), noon + timedelta(days=3))[1:-1]:
        assert shift.start.astimezone(ZoneInfo(zone)).time() == time(9, 0)
        assert shift.end.astimezone(ZoneInfo(zone)).time() == time(9, 0)


@pytest.mark.parametrize(("zone", "day", "hours"), DST_NIGHTS)
def test_hour_turns_are_elapsed_time_across_dst(zone: str, day: tuple[int, int, int], hours: int) -> None:
    rotation = schedule(zone, [layer(participants=["a", "b"], start="2024-01-01T09:00:00", turn="12h")])
    noon = local(zone, *day, 12, 0)
    shifts = shifts_between(rotation, noon - timedelta(days=2), noon + timedelta(days=2))
    assert all(shift.end - shift.start == timedelta(hours=12) for shift in shifts[1:-1])
    zone_info = ZoneInfo(zone)
    before = shifts[1].start.astimezone(zone_info).hour
    after = shifts[-1].start.astimezone(zone_info).hour
    # elapsed 12-hour turns drift by the DST jump: one hour later in spring, one hour earlier in autumn
    assert (after - before) % 12 == (1 if hours == 23 else 11)


def test_weekly_turn_over_spring_forward_lasts_167_hours() -> None:
    rotation = schedule(
        "Europe/Berlin", [layer(participants=["a", "b"], start="2024-03-25T09:00:00", turn={"weeks": 1})]
    )
    answer = on_call_at(rotation, {}, berlin(2024, 3, 31, 12, 0))
    assert answer.user_id == "a"
    assert answer.since == berlin(2024, 3, 25, 9, 0)
    assert answer.since is not None and answer.until is not None
    assert answer.until - answer.since == timedelta(hours=167)


def test_handoff_in_the_spring_forward_gap_happens_just_after_the_gap() -> None:
    rotation = schedule("Europe/Berlin", [layer(participants=["a", "b"], start="2024-03-29T02:30:00")])
    answer = on_call_at(rotation, {}, berlin(2024, 3, 31, 12, 0))
    # 02:30 does not exist on 2024-03-31: the handoff happens at 03:30 CEST (01:30 UTC).
    assert answer.since == utc(2024, 3, 31, 1, 30)


def test_handoff_in_the_fall_back_hour_happens_at_its_first_occurrence() -> None:
    rotation = schedule("Europe/Berlin", [layer(participants=["a", "b"], start="2024-10-25T02:30:00")])
    answer = on_call_at(rotation, {}, berlin(2024, 10, 27, 12, 0))
    assert answer.since == utc(2024, 10, 27, 0, 30)  # 02:30 CEST, not 02:30 CET


@pytest.mark.parametrize(
    ("zone", "handoff_utc"),
    [("Asia/Kolkata", (3, 30)), ("Asia/Kathmandu", (3, 15))],
)
def test_odd_offset_zones_hand_off_at_local_nine(zone: str, handoff_utc: tuple[int, int]) -> None:
    rotation = schedule(zone, [layer(participants=["a", "b"], start="2024-01-01T09:00:00")])
    hour, minute = handoff_utc
    just_before = utc(2024, 6, 10, hour, minute) - timedelta(minutes=1)
    at_handoff = utc(2024, 6, 10, hour, minute)
    assert on_call_at(rotation, {}, just_before).user_id != on_call_at(rotation, {}, at_handoff).user_id
    assert on_call_at(rotation, {}, at_handoff).since == at_handoff


def test_leap_day_is_an_ordinary_turn() -> None:
    rotation = schedule("Europe/Berlin", [layer(participants=["a", "b"], start="2024-02-28T09:00:00")])
    answers = [
        on_call_at(rotation, {}, berlin(2024, month, day, 12)).user_id for month, day in [(2, 28), (2, 29), (3, 1)]
    ]
    assert answers == ["a", "b", "a"]
    assert on_call_at(rotation, {}, berlin(2025, 2, 28, 12)).user_id == "a"  # 366 days later


def test_rotation_starting_on_a_leap_day() -> None:
    rotation = schedule("America/New_York", [layer(participants=["a", "b"], start="2024-02-29T10:00:00")])
    assert on_call_at(rotation, {}, local("America/New_York", 2025, 3, 1, 12)).user_id == "a"  # day 366
    assert on_call_at(rotation, {}, local("America/New_York", 2025, 2, 28, 12)).user_id == "b"  # day 365


@pytest.mark.parametrize(
    ("start", "at", "expected", "since"),
    [
        # Start after the handoff time: the first turn runs to the next 09:00.
        ("2024-01-01T12:00:00", (2024, 1, 1, 13), "a", (2024, 1, 1, 12)),
        ("2024-01-01T12:00:00", (2024, 1, 2, 9), "b", (2024, 1, 2, 9)),
        # Start before the handoff time: the first turn ends at that day's 09:00.
        ("2024-01-01T06:00:00", (2024, 1, 1, 8), "a", (2024, 1, 1, 6)),
        ("2024-01-01T06:00:00", (2024, 1, 1, 9), "b", (2024, 1, 1, 9)),
    ],
)
def test_handoff_time_other_than_start_time(
    start: str, at: tuple[int, ...], expected: str, since: tuple[int, ...]
) -> None:
    rotation = schedule(layers=[layer(participants=["a", "b"], start=start, handoff_time="09:00")])
    answer = on_call_at(rotation, {}, berlin(*at))
    assert (answer.user_id, answer.since) == (expected, berlin(*since))


def test_higher_layer_covers_lower_only_inside_its_restriction() -> None:
    rotation = schedule(
        layers=[
            layer("base", ["a", "b", "c"], start="2024-01-01T09:00:00"),
            layer("lunch", ["x"], start="2024-01-01T00:00:00", restrictions=[{"start": "12:00", "end": "13:00"}]),
        ]
    )
    lunch = on_call_at(rotation, {}, berlin(2024, 1, 2, 12, 30))
    assert (lunch.user_id, lunch.layer_id) == ("x", "lunch")
    assert (lunch.since, lunch.until) == (
        berlin(2024, 1, 2, 12),
        berlin(2024, 1, 2, 13),
    )
    after = on_call_at(rotation, {}, berlin(2024, 1, 2, 13, 0))
    assert (after.user_id, after.layer_id) == ("b", "base")
    assert after.since == berlin(2024, 1, 2, 13)
    assert after.until == berlin(2024, 1, 3, 9)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ((2024, 1, 5, 17, 59), None),  # friday before the window
        ((2024, 1, 5, 18, 0), "a"),  # friday 18:00 opens
        ((2024, 1, 7, 3, 0), "a"),  # sunday night
        ((2024, 1, 8, 7, 59), "b"),  # the weekly turn changed at monday 00:00, inside the window
        ((2024, 1, 8, 8, 0), None),  # monday 08:00 closes
    ],
)
def test_weekly_restriction_window_wraps_over_the_weekend(at: tuple[int, ...], expected: str | None) -> None:
    window = {"start_day": "friday", "start_time": "18:00", "end_day": "mon", "end_time": "08:00"}
    rotation = schedule(
        layers=[layer(participants=["a", "b"], start="2024-01-01T00:00:00", turn={"weeks": 1}, restrictions=[window])]
    )
    assert on_call_at(rotation, {}, berlin(*at)).user_id == expected


def test_overnight_daily_window_crossing_fall_back_lasts_nine_hours() -> None:
    rotation = schedule(
        layers=[
            layer(participants=["a"], start="2024-10-01T00:00:00", restrictions=[{"start": "22:00", "end": "06:00"}])
        ]
    )
    night = shifts_between(rotation, berlin(2024, 10, 26, 21), berlin(2024, 10, 27, 7))
    # the 22:00-24:00 part belongs to the turn of the 26th, 00:00-06:00 to the turn of the 27th
    assert sum((shift.end - shift.start for shift in night), timedelta()) == timedelta(hours=9)
    assert night[0].start == berlin(2024, 10, 26, 22)
    assert night[-1].end == berlin(2024, 10, 27, 6)


def test_restriction_window_edge_in_the_spring_forward_gap_moves_past_the_gap() -> None:
    """As a handoff does (docs/configuration.md): 02:30 does not exist on 2024-03-31, so the window opens at 03:30."""
    rotation = schedule(
        layers=[
            layer(participants=["a"], start="2024-03-01T00:00:00", restrictions=[{"start": "02:30", "end": "10:00"}])
        ]
    )
    day = shifts_between(rotation, berlin(2024, 3, 31, 0), berlin(2024, 3, 31, 12))
    assert [(shift.start, shift.end) for shift in day] == [(utc(2024, 3, 31, 1, 30), berlin(2024, 3, 31, 10))]
    assert on_call_at(rotation, {}, utc(2024, 3, 31, 1, 29)).user_id is None


def test_a_skipped_calendar_day_has_no_turn() -> None:
    """Pacific/Apia went from 29 to 31 December 2011: the turn of the 30th lasts no time, the next begins as usual."""
    rotation = schedule("Pacific/Apia", [layer(participants=["a", "b", "c"], start="2011-12-28T09:00:00")])
    shifts = shifts_between(rotation, local("Pacific/Apia", 2011, 12, 29, 12), local("Pacific/Apia", 2012, 1, 1, 12))
    assert [shift.user_id for shift in shifts] == ["b", "a", "b"]  # c's turn fell on the 30th
    assert shifts[0].end == shifts[1].start == local("Pacific/Apia", 2011, 12, 31, 9)
    assert shifts[0].end - local("Pacific/Apia", 2011, 12, 29, 9) == timedelta(hours=24)


def test_override_replaces_whoever_is_on_call() -> None:
    rotation = schedule(
        overrides=[{"id": "o1", "user": "z", "start": "2024-01-02T10:00:00+01:00", "end": "2024-01-02T11:00:00+01:00"}]
    )
    answer = on_call_at(rotation, {}, berlin(2024, 1, 2, 10, 30))
    assert (answer.user_id, answer.override_id, answer.layer_id) == ("z", "o1", None)
    assert (answer.since, answer.until) == (
        berlin(2024, 1, 2, 10),
        berlin(2024, 1, 2, 11),
    )
    back = on_call_at(rotation, {}, berlin(2024, 1, 2, 11))
    assert (back.user_id, back.since) == ("b", berlin(2024, 1, 2, 11))


def test_an_override_replacing_someone_on_call_through_another_override_applies() -> None:
    """b covers a from 10:00 to 14:00; c takes over from b 12:00-13:00. The check accepted c's override (it
    replaces b, not a) but it was never applied: b was paged."""
    rotation = schedule(
        layers=[layer(participants=["a"], turn={"weeks": 1})],
        overrides=[
            {
                "id": "o1",
                "user": "b",
                "replaces": "a",
                "start": "2024-01-02T10:00:00+01:00",
                "end": "2024-01-02T14:00:00+01:00",
            },
            {
                "id": "o2",
                "user": "c",
                "replaces": "b",
                "start": "2024-01-02T12:00:00+01:00",
                "end": "2024-01-02T13:00:00+01:00",
            },
        ],
    )
    answer = on_call_at(rotation, {}, berlin(2024, 1, 2, 12, 30))
    assert (answer.user_id, answer.override_id) == ("c", "o2")
    day = shifts_between(rotation, berlin(2024, 1, 2, 9), berlin(2024, 1, 2, 15))
    hours = [(10, 12), (12, 13), (13, 14)]
    assert [(s.user_id, s.start, s.end) for s in day][1:4] == [
        (user, berlin(2024, 1, 2, start), berlin(2024, 1, 2, end))
        for user, (start, end) in zip("bcb", hours, strict=True)
    ]


def test_a_chain_of_replacing_overrides_gives_one_answer_whatever_their_order() -> None:
    """Applied in list order, "c replaces b" listed before "b replaces a" never applied: b was paged, and the order
    is how they were created (config overrides first, API ones by start), not what anyone meant."""
    covering = {"start": "2024-01-02T10:00:00+01:00", "end": "2024-01-02T14:00:00+01:00"}
    b_for_a = {"id": "b-for-a", "user": "b", "replaces": "a", **covering}
    c_for_b = {"id": "c-for-b", "user": "c", "replaces": "b", **covering}
    for overrides in ([b_for_a, c_for_b], [c_for_b, b_for_a]):
        rotation = schedule(layers=[layer(participants=["a"], turn={"weeks": 1})], overrides=overrides)
        answer = on_call_at(rotation, {}, berlin(2024, 1, 2, 12))
        assert (answer.user_id, answer.override_id) == ("c", "c-for-b"), [o["id"] for o in overrides]


def test_two_overrides_replacing_each_other_s_person_are_a_swap() -> None:
    """a and b swap a week (b replaces a, a replaces b): chained, a's turn went to b and back to a, so each day's
    usual person was paged, while the shifts said an override put them there."""
    week = {"start": "2024-01-01T09:00:00+01:00", "end": "2024-01-08T09:00:00+01:00"}
    swap = [
        {"id": "b-for-a", "user": "b", "replaces": "a", **week},
        {"id": "a-for-b", "user": "a", "replaces": "b", **week},
    ]
    for overrides in (swap, swap[::-1]):
        rotation = schedule(layers=[layer(participants=["a", "b"], turn={"days": 1})], overrides=overrides)
        usual = schedule(layers=[layer(participants=["a", "b"], turn={"days": 1})])
        for day in range(1, 8):
            at = berlin(2024, 1, day, 12)
            before, after = on_call_at(usual, {}, at).user_id, on_call_at(rotation, {}, at)
            assert after.user_id == {"a": "b", "b": "a"}[before or ""], (day, [o["id"] for o in overrides])
            assert after.override_id == f"{after.user_id}-for-{before}"


def test_an_override_of_years_is_looked_up_within_the_search_window() -> None:
    """An override to the year 2100 made every lookup generate 75 years of turns around the instant (1.6 s a call,
    for every page of the schedule); the window is bounded, and ``until`` is reported within it."""
    rotation = schedule(
        overrides=[{"id": "long", "user": "z", "start": "2024-01-01T00:00:00Z", "end": "2100-01-01T00:00:00Z"}]
    )
    at = berlin(2024, 6, 1, 12)
    assert search_radius(rotation, at) == MAX_SEARCH
    answer = on_call_at(rotation, {}, at)
    assert (answer.user_id, answer.override_id) == ("z", "long")
    assert answer.until == at + MAX_SEARCH


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("layer start", {"start": "0001-01-01T00:00:00"}, "not between 1970-01-01 and 2200-01-01"),
        ("override end", {"end": "9999-12-31T00:00:00Z"}, "not between 1970-01-01 and 2200-01-01"),
        ("long turn", {"turn": {"weeks": 110000}}, "a turn is at most 366 days"),
        ("short turn", {"turn": "15m"}, "a turn is at least an hour"),
    ],
)
def test_unservable_dates_and_turns_are_refused(field: str, value: dict[str, Any], message: str) -> None:
    """Each overflowed the on-call calculation (OverflowError: nobody paged for the schedule, and the failing step
    held up the timer's batch), or made it take seconds per lookup."""
    override = {"id": "o", "user": "z", "start": "2024-01-01T00:00:00Z", "end": "2024-01-02T00:00:00Z"}
    layer_fields = {k: v for k, v in value.items() if field.startswith(("layer", "long", "short"))}
    override_fields = value if field.startswith("override") else {}
    with pytest.raises(ValidationError, match=message):
        schedule(layers=[layer(**layer_fields)], overrides=[override | override_fields])


def test_override_with_replaces_applies_only_while_that_user_is_on_call() -> None:
    rotation = schedule(
        overrides=[
            {
                "id": "o1",
                "user": "z",
                "replaces": "b",
                "start": "2024-01-01T00:00:00+01:00",
                "end": "2024-01-05T00:00:00+01:00",
            }
        ]
    )
    assert on_call_at(rotation, {}, berlin(2024, 1, 1, 12)).user_id == "a"
    swapped = on_call_at(rotation, {}, berlin(2024, 1, 2, 12))
    assert (swapped.user_id, swapped.override_id) == ("z", "o1")
    assert (swapped.since, swapped.until) == (
        berlin(2024, 1, 2, 9),
        berlin(2024, 1, 3, 9),
    )
    assert on_call_at(rotation, {}, berlin(2024, 1, 3, 12)).user_id == "c"


def test_override_fills_a_gap_when_nobody_is_on_call() -> None:
    rotation = schedule(
        layers=[layer(participants=["a"], restrictions=[{"start": "09:00", "end": "17:00"}])],
        overrides=[
            {"id": "night", "user": "z", "start": "2024-01-02T20:00:00+01:00", "end": "2024-01-02T22:00:00+01:00"}
        ],
    )
    assert on_call_at(rotation, {}, berlin(2024, 1, 2, 21)).user_id == "z"


def test_gap_reports_when_it_started_and_when_it_ends() -> None:
    rotation = schedule(layers=[layer(participants=["a"], restrictions=[{"start": "09:00", "end": "17:00"}])])
    gap = on_call_at(rotation, {}, berlin(2024, 1, 2, 20))
    assert gap.user_id is None
    assert (gap.since, gap.until) == (berlin(2024, 1, 2, 17), berlin(2024, 1, 3, 9))


def test_user_name_comes_from_the_users_mapping() -> None:
    from alertrouter_router.ownership.people import User
    from tests.router.unit.ownership_builders import user

    users = {"b": User.model_validate(user("b"))}
    assert on_call_at(BERLIN_DAILY, users, berlin(2024, 1, 2, 12)).user_name == "B"


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        on_call_at(BERLIN_DAILY, {}, datetime(2024, 1, 2, 12))


def test_shifts_are_clipped_to_the_requested_interval_and_in_order() -> None:
    shifts = shifts_between(BERLIN_DAILY, berlin(2024, 1, 2, 12), berlin(2024, 1, 4, 12))
    assert [(s.user_id, s.start, s.end) for s in shifts] == [
        ("b", berlin(2024, 1, 2, 12), berlin(2024, 1, 3, 9)),
        ("c", berlin(2024, 1, 3, 9), berlin(2024, 1, 4, 9)),
        ("a", berlin(2024, 1, 4, 9), berlin(2024, 1, 4, 12)),
    ]


def test_aware_layer_start_is_read_in_its_own_offset() -> None:
    rotation = schedule(layers=[layer(participants=["a", "b"], start="2024-01-01T08:00:00+00:00")])
    assert on_call_at(rotation, {}, berlin(2024, 1, 2, 8, 59)).user_id == "a"
    assert on_call_at(rotation, {}, berlin(2024, 1, 2, 9, 0)).user_id == "b"


def test_gap_until_reaches_past_one_turn_for_weekly_windows() -> None:
    weekend = {"start_day": "saturday", "start_time": "00:00", "end_day": "monday", "end_time": "00:00"}
    rotation = schedule(layers=[layer(participants=["a"], restrictions=[weekend])])
    gap = on_call_at(rotation, {}, berlin(2024, 1, 8, 12))  # a monday
    assert (gap.user_id, gap.since, gap.until) == (None, berlin(2024, 1, 8), berlin(2024, 1, 13))
