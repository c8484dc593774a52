"""Time vocabulary of the configuration: zones, wall-clock times, weekdays, turn lengths and windows.

Turns come in two kinds on purpose. Days and weeks are *calendar* units: a daily 09:00 handoff stays at 09:00
local time across DST, so such a turn can last 23 or 25 hours. Hours and minutes are *elapsed* time.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    GetJsonSchemaHandler,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class StrictModel(BaseModel):
    """Base of every configuration model: unknown keys are errors, so typos never pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"invalid time zone {name!r}: not an IANA zone name such as 'Europe/Berlin'") from exc
    return name


def _parse_clock(value: Any) -> time:
    if isinstance(value, time):
        return value
    if not isinstance(value, str):
        raise ValueError(f'times are written as quoted "HH:MM" strings, got {value!r}')
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", value.strip())
    if match is None:
        raise ValueError(f'invalid time of day {value!r}: expected "HH:MM" between 00:00 and 23:59')
    return time(int(match.group(1)), int(match.group(2)))


def _clock_text(value: time) -> str:
    """A time of day as configuration writes it: ``time`` serialises as "02:00:00", which ``_parse_clock`` (and so
    every response model holding a ``ClockTime``) refuses, and which reads unlike the file it came from."""
    return value.strftime("%H:%M")


def _parse_weekday(value: Any) -> str:
    if isinstance(value, str):
        text = value.strip().lower()
        for day in WEEKDAYS:
            if text in (day, day[:3]):
                return day
    raise ValueError(f"invalid weekday {value!r}: expected one of {', '.join(WEEKDAYS)}")


def _any_case(word: str) -> str:
    """A JSON Schema (ECMA) pattern matching ``word`` in any letter case: it has no inline ``(?i)``."""
    return "".join(f"[{char.lower()}{char.upper()}]" for char in word)


_CLOCK_SCHEMA = {
    "type": "string",
    "pattern": r"^\s*([01]?\d|2[0-3]):[0-5]\d\s*$",
    "description": 'time of day "HH:MM"',
}
_WEEKDAY_SCHEMA = {
    "type": "string",
    "pattern": "^\\s*(?:" + "|".join(f"{_any_case(day[:3])}(?:{_any_case(day[3:])})?" for day in WEEKDAYS) + ")\\s*$",
    "description": "monday ... sunday, or mon ... sun",
}
_WALL_TIME_SCHEMA = {
    "type": "string",
    "pattern": r"^\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:?\d{2})?)?$",
    "description": "wall time in the schedule's zone, e.g. 2026-01-05T09:00:00 (an offset is converted)",
}

_INSTANT_SCHEMA = {
    "type": "string",
    "pattern": r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:?\d{2})$",
    "description": "an instant with its UTC offset, e.g. 2026-12-24T00:00:00+01:00 or 2026-12-05T06:00:00Z",
}

TimeZoneName = Annotated[str, AfterValidator(_check_zone)]
ClockTime = Annotated[
    time,
    BeforeValidator(_parse_clock),
    PlainSerializer(_clock_text, return_type=str, when_used="json"),
    WithJsonSchema(_CLOCK_SCHEMA),
]
Weekday = Annotated[str, BeforeValidator(_parse_weekday), WithJsonSchema(_WEEKDAY_SCHEMA)]
# Dates a configuration (or an override through the API) may name: the years ingest accepts for event times. A
# layer starting in year 1 or an override ending in 9999 overflowed the on-call calculation around them, and an
# exception there pages nobody.
EARLIEST = datetime(1970, 1, 1)
LATEST = datetime(2200, 1, 1)


def within_years(value: datetime) -> datetime:
    try:  # 9999-12-31T23:00-05:00 is a valid datetime with no UTC equivalent: not an error of ours (500)
        plain = value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:
        raise ValueError(f"{value.isoformat()} is not between {EARLIEST.date()} and {LATEST.date()}") from None
    if not EARLIEST <= plain <= LATEST:
        raise ValueError(f"{value.isoformat()} is not between {EARLIEST.date()} and {LATEST.date()}")
    return value


WallDateTime = Annotated[datetime, AfterValidator(within_years), WithJsonSchema(_WALL_TIME_SCHEMA)]
Instant = Annotated[AwareDatetime, AfterValidator(within_years), WithJsonSchema(_INSTANT_SCHEMA)]

# Bounds of one turn. The calculator looks a turn either side of an instant for the shift around it, so a turn of
# thousands of weeks overflowed, and minute turns beside a year-long one made each lookup take seconds.
MIN_TURN_SECONDS = 3600
MAX_TURN_DAYS = 366

_SHORT = re.compile(r"(\d+)\s*(m|min|h|d|w)", re.IGNORECASE)
_ISO = re.compile(r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?", re.IGNORECASE)
_SHORT_UNITS = {"m": (0, 60), "min": (0, 60), "h": (0, 3600), "d": (1, 0), "w": (7, 0)}
_DURATION_PATTERN = (
    r"^\s*(?:\d+\s*(?:[mM]|[mM][iI][nN]|[hHdDwW])"
    r"|[pP](?:\d+[wW])?(?:\d+[dD])?(?:[tT](?:\d+[hH])?(?:\d+[mM])?)?)\s*$"
)


def _one_unit(unit: str) -> dict[str, Any]:
    amount: dict[str, Any] = {"type": "integer", "minimum": 1}
    if unit == "duration":
        amount = {"type": "string", "pattern": _DURATION_PATTERN}
    return {"type": "object", "properties": {unit: amount}, "required": [unit], "additionalProperties": False}


def _parse_duration_text(text: str) -> dict[str, int]:
    short = _SHORT.fullmatch(text.strip())
    if short is not None:
        days_per, seconds_per = _SHORT_UNITS[short.group(2).lower()]
        amount = int(short.group(1))
        return {"days": amount * days_per, "seconds": amount * seconds_per}
    iso = _ISO.fullmatch(text.strip())
    if iso is None or text.strip().upper() in ("P", "PT"):
        raise ValueError(f"invalid duration {text!r}: use e.g. '12h', '1d', '2w', 'PT12H', 'P1D' or 'P1W'")
    weeks, days, hours, minutes = (int(group or 0) for group in iso.groups())
    return {"days": weeks * 7 + days, "seconds": hours * 3600 + minutes * 60}


class Turn(StrictModel):
    """How long each participant's turn lasts: calendar ``days`` or elapsed ``seconds``, never both."""

    days: int = 0
    seconds: int = 0

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, value: Any) -> Any:
        if isinstance(value, str):
            return _parse_duration_text(value)
        if not isinstance(value, dict) or (set(value) <= {"days", "seconds"} and "weeks" not in value):
            return value
        unknown = set(value) - {"hours", "days", "weeks", "duration"}
        if unknown:
            raise ValueError(f"unknown turn unit(s) {sorted(unknown)}: use hours, days, weeks or duration")
        if len(value) != 1:
            raise ValueError("a turn has exactly one of hours, days, weeks or duration")
        unit, amount = next(iter(value.items()))
        if unit == "duration":
            if not isinstance(amount, str):
                raise ValueError(f"turn duration must be a string such as 'PT12H', got {amount!r}")
            return _parse_duration_text(amount)
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise ValueError(f"turn {unit} must be a whole number, got {amount!r}")
        return {"hours": {"seconds": amount * 3600}, "days": {"days": amount}, "weeks": {"days": amount * 7}}[unit]

    @model_validator(mode="after")
    def _check_positive(self) -> Turn:
        if self.days and self.seconds:
            raise ValueError("a turn mixes calendar days with hours; use either days/weeks or hours")
        if self.days < 0 or self.seconds < 0 or (self.days == 0 and self.seconds == 0):
            raise ValueError("turn must be positive (zero or negative turn length)")
        if self.seconds and self.seconds < MIN_TURN_SECONDS:
            raise ValueError("a turn is at least an hour: nobody's on-call shift is shorter")
        if self.days > MAX_TURN_DAYS or self.seconds > MAX_TURN_DAYS * 86400:
            raise ValueError(f"a turn is at most {MAX_TURN_DAYS} days")
        return self

    @classmethod
    def __get_pydantic_json_schema__(cls, core: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        """What people write (``{weeks: 1}``, ``"12h"``, ``"P1D"``), not the normalised days/seconds."""
        return {
            "description": "turn length: {hours: N}, {days: N}, {weeks: N}, {duration: 'PT12H'} or '12h', '1d', '2w'",
            "anyOf": [
                {"type": "string", "pattern": _DURATION_PATTERN},
                *(_one_unit(unit) for unit in ("hours", "days", "weeks", "duration")),
            ],
        }

    @property
    def is_calendar(self) -> bool:
        return self.days > 0

    def longest(self) -> timedelta:
        """An upper bound of one turn's real length (a calendar day can last 25 hours)."""
        return timedelta(days=self.days, hours=3 if self.days else 0, seconds=self.seconds)

    def describe(self) -> str:
        if self.days:
            return f"{self.days // 7} week(s)" if self.days % 7 == 0 else f"{self.days} day(s)"
        return f"{self.seconds / 3600:g} hour(s)"


class TimeWindow(StrictModel):
    """A recurring window in a zone: daily (``start``/``end``) or weekly (``start_day``... ``end_time``).

    A window whose end is not after its start wraps: 22:00-06:00 runs overnight, friday 18:00 - monday 08:00
    runs over the weekend.
    """

    start: ClockTime | None = None
    end: ClockTime | None = None
    start_day: Weekday | None = None
    start_time: ClockTime | None = None
    end_day: Weekday | None = None
    end_time: ClockTime | None = None

    @model_validator(mode="after")
    def _check_shape(self) -> TimeWindow:
        daily = (self.start, self.end)
        weekly = (self.start_day, self.start_time, self.end_day, self.end_time)
        if all(part is not None for part in daily) and all(part is None for part in weekly):
            if self.start == self.end:
                raise ValueError("empty window: start equals end (omit restrictions for all day)")
            return self
        if all(part is not None for part in weekly) and all(part is None for part in daily):
            if self.start_day == self.end_day and self.start_time == self.end_time:
                raise ValueError("empty window: start equals end (omit restrictions for the whole week)")
            return self
        raise ValueError("a window is either daily {start, end} or weekly {start_day, start_time, end_day, end_time}")

    @property
    def is_daily(self) -> bool:
        return self.start is not None

    def week_minutes(self) -> list[tuple[int, int]]:
        """The window as half-open minute ranges within one week (monday 00:00 = 0), wrap split in two."""
        week = 7 * 24 * 60
        if self.start is not None and self.end is not None:
            ranges: list[tuple[int, int]] = []
            for day in range(7):
                begin = day * 1440 + self.start.hour * 60 + self.start.minute
                length = (self.end.hour * 60 + self.end.minute - self.start.hour * 60 - self.start.minute) % 1440
                ranges.extend(_wrap(begin, begin + length, week))
            return ranges
        assert self.start_day and self.start_time and self.end_day and self.end_time
        begin = WEEKDAYS.index(self.start_day) * 1440 + self.start_time.hour * 60 + self.start_time.minute
        finish = WEEKDAYS.index(self.end_day) * 1440 + self.end_time.hour * 60 + self.end_time.minute
        return _wrap(begin, begin + (finish - begin) % week, week)


def _wrap(begin: int, finish: int, week: int) -> list[tuple[int, int]]:
    if finish <= week:
        return [(begin, finish)]
    return [(begin, week), (0, finish - week)]


def windows_overlap(windows: list[TimeWindow]) -> tuple[int, int] | None:
    """Indexes of the first two windows that overlap within a week, if any (ambiguous restrictions)."""
    for first in range(len(windows)):
        for second in range(first + 1, len(windows)):
            for a_begin, a_end in windows[first].week_minutes():
                for b_begin, b_end in windows[second].week_minutes():
                    if a_begin < b_end and b_begin < a_end:
                        return first, second
    return None
