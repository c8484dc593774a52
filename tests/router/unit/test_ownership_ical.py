"""iCal feeds parsed back with `icalendar` and compared with `shifts_between`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from alertrouter_router.ownership.ical import schedule_calendar, user_calendar, whole_shifts
from alertrouter_router.ownership.model import OwnershipConfig
from alertrouter_router.ownership.schedules import shifts_between
from tests.router.unit.ownership_builders import berlin, config_from, minimal_document, user, utc

FROM, TO = berlin(2024, 3, 28, 12), berlin(2024, 4, 3, 12)  # crosses the spring-forward night
STAMP = berlin(2024, 3, 1)


def _config() -> OwnershipConfig:
    document = minimal_document()
    document["users"].append(user("z"))
    document["schedules"][0]["overrides"] = [
        {"id": "o1", "user": "z", "start": "2024-03-31T12:00:00+02:00", "end": "2024-03-31T14:00:00+02:00"}
    ]
    return config_from(document)


def events(body: bytes) -> list[tuple[str, object, object, str]]:
    calendar = Calendar.from_ical(body)
    return [
        (str(event["uid"]), event.decoded("dtstart"), event.decoded("dtend"), str(event["x-alertrouter-user"]))
        for event in calendar.walk("VEVENT")
    ]


def test_schedule_feed_matches_shifts_between() -> None:
    config = _config()
    schedule = config.schedules_by_id["s1"]
    body = schedule_calendar(schedule, config.users_by_id, FROM, TO, generated_at=STAMP)
    parsed = events(body)
    shifts = whole_shifts(schedule, FROM, TO)
    assert [(start, end, who) for _, start, end, who in parsed] == [(s.start, s.end, s.user_id) for s in shifts]
    # whole shifts: the interior ones are exactly what shifts_between returns for the range
    assert [(s.start, s.end, s.user_id) for s in shifts][1:-1] == [
        (s.start, s.end, s.user_id) for s in shifts_between(schedule, FROM, TO)
    ][1:-1]
    assert shifts[0].start < FROM < shifts[0].end
    assert any(who == "z" for *_, who in parsed)
    assert len({uid for uid, *_ in parsed}) == len(parsed)
    assert Calendar.from_ical(body)["x-wr-calname"] == "On call: Primary"


def test_uids_are_stable_across_requested_ranges() -> None:
    config = _config()
    schedule = config.schedules_by_id["s1"]
    wide = events(schedule_calendar(schedule, config.users_by_id, FROM, TO, generated_at=STAMP))
    narrow = events(schedule_calendar(schedule, config.users_by_id, FROM + timedelta(days=2), TO, generated_at=STAMP))
    assert set(narrow) <= set(wide)
    assert len(narrow) < len(wide)


def test_user_feed_holds_only_that_users_shifts() -> None:
    config = _config()
    parsed = events(user_calendar(config, "a", FROM, TO, generated_at=STAMP))
    expected = [s for s in whole_shifts(config.schedules_by_id["s1"], FROM, TO) if s.user_id == "a"]
    assert [(start, end) for _, start, end, _ in parsed] == [(s.start, s.end) for s in expected]
    assert {who for *_, who in parsed} == {"a"}


def _components(body: bytes) -> list[str]:
    """The names of the calendar's components, read from the text itself (RFC 5545 wants at least one)."""
    lines = body.decode().split("\r\n")
    depth, found = 0, []
    for line in lines:
        if line.startswith("BEGIN:"):
            depth += 1
            if depth == 2:
                found.append(line.removeprefix("BEGIN:"))
        elif line.startswith("END:"):
            depth -= 1
    return found


def test_a_feed_with_no_shift_in_its_range_is_still_a_valid_calendar() -> None:
    """z is on no rotation and a rotation starts next year: both feeds were a bare VCALENDAR with no component, which
    RFC 5545 does not allow (strict clients refuse the subscription). The feed's zone is there as a VTIMEZONE."""
    config = _config()
    nobody = user_calendar(config, "z", FROM - timedelta(days=10), FROM - timedelta(days=5), generated_at=STAMP)
    assert _components(nobody) == ["VTIMEZONE"]
    timezone = Calendar.from_ical(nobody).walk("VTIMEZONE")[0]
    assert str(timezone["tzid"]) == "Europe/Berlin"
    later = config_from(
        minimal_document() | {"schedules": [{**minimal_document()["schedules"][0], "time_zone": "Asia/Kolkata"}]}
    ).schedules_by_id["s1"]
    empty = schedule_calendar(later, config.users_by_id, utc(2023, 1, 1), utc(2023, 1, 29), generated_at=STAMP)
    assert _components(empty) == ["VTIMEZONE"]
    assert [str(t["tzid"]) for t in Calendar.from_ical(empty).walk("VTIMEZONE")] == ["Asia/Kolkata"]


def test_events_stay_in_utc_beside_the_feeds_zone() -> None:
    config = _config()
    body = schedule_calendar(config.schedules_by_id["s1"], config.users_by_id, FROM, TO, generated_at=STAMP)
    assert _components(body)[0] == "VTIMEZONE" and set(_components(body)[1:]) == {"VEVENT"}
    events = body.decode().split("BEGIN:VEVENT\r\n")[1:]
    times = [line for event in events for line in event.split("\r\n") if line.startswith(("DTSTART", "DTEND"))]
    assert len(times) == 2 * len(events) and all(re.fullmatch(r"DT(START|END):\d{8}T\d{6}Z", t) for t in times)


@pytest.mark.parametrize(
    ("zone", "start", "end"),
    [
        ("Europe/Berlin", utc(2026, 3, 20), utc(2026, 11, 5)),  # spring forward and fall back
        ("America/New_York", utc(2026, 3, 1), utc(2026, 11, 10)),
        ("Australia/Adelaide", utc(2026, 3, 25), utc(2026, 10, 20)),  # +10:30 to +09:30 and back, southern
        ("Australia/Lord_Howe", utc(2026, 3, 25), utc(2026, 10, 20)),  # a DST of 30 minutes
        ("Asia/Kathmandu", utc(2026, 1, 1), utc(2026, 2, 1)),  # none
    ],
)
def test_vtimezone_onsets_are_the_zones_real_transitions(zone: str, start: datetime, end: datetime) -> None:
    """RFC 5545 3.6.5: an observance's DTSTART is its onset in the local time in force *before* it (TZOFFSETFROM),
    so DTSTART - TZOFFSETFROM is the UTC instant the zone's offset changes (Berlin's spring forward: 02:00, not
    03:00, which a client would read as an hour late)."""
    config = config_from(minimal_document())
    schedule = config.schedules_by_id["s1"].model_copy(update={"time_zone": zone})
    body = schedule_calendar(schedule, config.users_by_id, start, end, generated_at=STAMP)
    timezone = Calendar.from_ical(body).walk("VTIMEZONE")[0]
    info, changes = ZoneInfo(zone), 0
    for observance in timezone.walk()[1:]:
        before = observance.decoded("tzoffsetfrom")
        onset = (observance.decoded("dtstart") - before).replace(tzinfo=UTC)
        if before == observance.decoded("tzoffsetto"):
            assert onset <= start  # the offset in force where the range begins
            continue
        changes += 1
        assert (onset - timedelta(seconds=1)).astimezone(info).utcoffset() == before
        assert onset.astimezone(info).utcoffset() == observance.decoded("tzoffsetto")
    assert changes == (0 if zone == "Asia/Kathmandu" else 2)
