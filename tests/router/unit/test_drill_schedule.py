"""Scheduled drills: which runs are due between two instants, exact across DST in the rule's IANA zone."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from pydantic import ValidationError

from alertrouter_router.ownership.drill_schedule import DrillSchedule, next_run, runs_between
from tests.router.unit.ownership_builders import berlin, local, utc


def drill(rule: str, zone: str = "Europe/Berlin", **extra: Any) -> DrillSchedule:
    return DrillSchedule.model_validate({"id": "d", "rrule": rule, "time_zone": zone, **extra})


FIRST_TUESDAY = "FREQ=MONTHLY;BYDAY=1TU;BYHOUR=14;BYMINUTE=0"

CASES: list[tuple[str, str, str, datetime, datetime, list[datetime]]] = [
    (
        "first Tuesday 14:00 Berlin, winter (UTC+1) then summer (UTC+2)",
        FIRST_TUESDAY,
        "Europe/Berlin",
        utc(2027, 1, 1),
        utc(2027, 5, 1),
        [utc(2027, 1, 5, 13), utc(2027, 2, 2, 13), utc(2027, 3, 2, 13), utc(2027, 4, 6, 12)],
    ),
    (
        "a window ending exactly at a run includes it; starting exactly at one excludes it",
        FIRST_TUESDAY,
        "Europe/Berlin",
        utc(2027, 1, 5, 13),
        utc(2027, 2, 2, 13),
        [utc(2027, 2, 2, 13)],
    ),
    (
        "daily 09:00 Berlin over the spring-forward night: 24 h, then 23 h apart",
        "FREQ=DAILY;BYHOUR=9;BYMINUTE=0",
        "Europe/Berlin",
        utc(2027, 3, 27),
        utc(2027, 3, 29, 12),
        [utc(2027, 3, 27, 8), utc(2027, 3, 28, 7), utc(2027, 3, 29, 7)],
    ),
    (
        "daily 02:30 Berlin: missing on 28 March 2027, run at 03:30 CEST (the gap's length later)",
        "FREQ=DAILY;BYHOUR=2;BYMINUTE=30",
        "Europe/Berlin",
        utc(2027, 3, 27, 12),
        utc(2027, 3, 29, 12),
        [utc(2027, 3, 28, 1, 30), utc(2027, 3, 29, 0, 30)],
    ),
    (
        "daily 02:30 Berlin: twice on 31 October 2027, run once, the first time (CEST)",
        "FREQ=DAILY;BYHOUR=2;BYMINUTE=30",
        "Europe/Berlin",
        utc(2027, 10, 30, 12),
        utc(2027, 11, 1, 12),
        [utc(2027, 10, 31, 0, 30), utc(2027, 11, 1, 1, 30)],
    ),
    (
        "weekly Monday 10:00 New York across its November change",
        "FREQ=WEEKLY;BYDAY=MO;BYHOUR=10;BYMINUTE=0",
        "America/New_York",
        utc(2027, 10, 30),
        utc(2027, 11, 10),
        [utc(2027, 11, 1, 14), utc(2027, 11, 8, 15)],
    ),
    (
        "every other week counts from start",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=WE;BYHOUR=11;BYMINUTE=15",
        "UTC",
        utc(2027, 1, 1),
        utc(2027, 2, 1),
        [utc(2027, 1, 13, 11, 15), utc(2027, 1, 27, 11, 15)],
    ),
    (
        "last Friday of the month in Sydney (a day ahead of UTC)",
        "FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=9;BYMINUTE=0",
        "Australia/Sydney",
        utc(2027, 1, 1),
        utc(2027, 3, 1),
        [local("Australia/Sydney", 2027, 1, 29, 9), local("Australia/Sydney", 2027, 2, 26, 9)],
    ),
    (
        "UNTIL ends the rule",
        "FREQ=DAILY;BYHOUR=8;BYMINUTE=0;UNTIL=20270103T235959",
        "UTC",
        utc(2027, 1, 1),
        utc(2027, 1, 10),
        [utc(2027, 1, 1, 8), utc(2027, 1, 2, 8), utc(2027, 1, 3, 8)],
    ),
]


@pytest.mark.parametrize(("name", "rule", "zone", "after", "until", "expected"), CASES, ids=[c[0] for c in CASES])
def test_runs_between(
    name: str, rule: str, zone: str, after: datetime, until: datetime, expected: list[datetime]
) -> None:
    extra = {"start": "2027-01-13T00:00:00"} if "INTERVAL=2" in rule else {}
    assert runs_between(drill(rule, zone, **extra), after, until) == expected


def test_no_run_before_start_and_next_run() -> None:
    later = drill(FIRST_TUESDAY, start="2027-03-01T00:00:00")
    assert runs_between(later, utc(2027, 1, 1), utc(2027, 4, 1)) == [utc(2027, 3, 2, 13)]
    assert next_run(later, utc(2027, 1, 1)) == berlin(2027, 3, 2, 14)
    assert next_run(later, utc(2027, 3, 2, 13)) == berlin(2027, 4, 6, 14)
    ended = drill("FREQ=DAILY;BYHOUR=8;BYMINUTE=0;UNTIL=20270103T235959", "UTC")
    assert next_run(ended, utc(2027, 1, 5)) is None


@pytest.mark.parametrize(
    ("rule", "extra", "message"),
    [
        ("FREQ=HOURLY;BYMINUTE=0", {}, "FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY"),
        ("FREQ=MONTHLY;BYDAY=1XX;BYHOUR=14;BYMINUTE=0", {}, "invalid 'BYDAY'"),
        ("FREQ=DAILY;BYHOUR=25;BYMINUTE=0", {}, "hour must be in 0..23"),
        ("FREQ=MONTHLY;BYDAY=1TU", {}, "BYHOUR and BYMINUTE"),
        ("DTSTART=20270101T000000;FREQ=DAILY;BYHOUR=1;BYMINUTE=0", {}, "not DTSTART"),
        ("freq=daily;byhour=1;byminute=0", {}, "upper case"),
        ("FREQ=DAILY;BYHOUR=1;BYMINUTE=0;UNTIL=20270101T000000Z", {}, "UNTIL is a local date-time"),
        (FIRST_TUESDAY, {"time_zone": "Europe/Berlinn"}, "invalid time zone"),
    ],
)
def test_invalid_rules_are_refused_with_a_clear_message(rule: str, extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        DrillSchedule.model_validate({"id": "d", "rrule": rule, "time_zone": "Europe/Berlin", **extra})
