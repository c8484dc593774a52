"""Drills scheduled in the configuration, written as RFC 5545 recurrence rules in an IANA time zone, and when they
are due (pure).

Why RRULE: it is the calendar standard people already meet in every calendar tool (and in this project's iCal
feeds), it says "the first Tuesday of the month at 14:00" exactly (``FREQ=MONTHLY;BYDAY=1TU;BYHOUR=14;BYMINUTE=0``),
and ``python-dateutil`` implements it, well kept and tested; a home-made phrase grammar would be one more language
to learn, document and get wrong.

The rule runs on wall time in ``time_zone``: 14:00 stays 14:00 local across DST. A wall time that does not exist
(inside a spring-forward gap) runs at the same distance after the gap's start (02:30 becomes 03:30), and one that
happens twice (fall back) runs at its first occurrence, as RFC 5545 says.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Annotated
from zoneinfo import ZoneInfo

from dateutil import rrule as rfc5545
from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrulestr
from pydantic import Field, field_validator, model_validator

from alertrouter_router.ownership.timespec import StrictModel, TimeZoneName, WallDateTime
from alertrouter_shared.integrations import Identifier

# The anchor of a rule without ``start``: a Monday, so INTERVAL=2 weeks counts from a known week.
DEFAULT_ANCHOR = datetime(2000, 1, 3)
_FREQUENCIES = {"DAILY": DAILY, "WEEKLY": WEEKLY, "MONTHLY": MONTHLY, "YEARLY": YEARLY}
RRULE_PATTERN = r"^(?=(?:.*;)?FREQ=(?:DAILY|WEEKLY|MONTHLY|YEARLY)(?:;|$))[A-Z]+=[A-Z0-9,+-]+(?:;[A-Z]+=[A-Z0-9,+-]+)*$"


def _parts(text: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in text.split(";") if "=" in part)


class DrillSchedule(StrictModel):
    """One recurring drill of a service: ``rrule`` (RFC 5545, without DTSTART) on wall time in ``time_zone``."""

    id: Identifier
    rrule: Annotated[
        str,
        Field(
            json_schema_extra={"pattern": RRULE_PATTERN},  # for editors; the validators below check the same
            description='RFC 5545 RRULE, e.g. "FREQ=MONTHLY;BYDAY=1TU;BYHOUR=14;BYMINUTE=0" (first Tuesday, 14:00); '
            "FREQ is DAILY, WEEKLY, MONTHLY or YEARLY",
        ),
    ]
    time_zone: TimeZoneName
    start: WallDateTime | None = Field(
        None, description="wall time in time_zone: no run before it, and INTERVAL counts from it (default 2000-01-03)"
    )
    silent: bool = Field(False, description="check the chain without paging anyone")
    note: Annotated[str, Field(max_length=500)] = ""

    @field_validator("rrule", mode="before")
    @classmethod
    def _shape(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        text = value.strip().removeprefix("RRULE:")
        parts = _parts(text)
        if "DTSTART" in text.upper():
            raise ValueError("rrule: write the first run's anchor as 'start' (in time_zone), not DTSTART")
        if text != text.upper():
            raise ValueError(f"rrule {text!r}: write it in upper case, as RFC 5545 does")
        if parts.get("FREQ") not in _FREQUENCIES:
            raise ValueError(
                f"rrule {text!r}: FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY (a drill at most a few times a day)"
            )
        return text

    @model_validator(mode="after")
    def _valid_rule(self) -> DrillSchedule:
        parts = _parts(self.rrule)
        if self.start is None and not {"BYHOUR", "BYMINUTE"} <= parts.keys():
            raise ValueError("rrule: give the time of the run with BYHOUR and BYMINUTE (or a 'start' to take it from)")
        try:
            self.rule  # noqa: B018  # parse now, so a bad rule is a configuration error and not a timer failure
        except ValueError as exc:
            hint = " (UNTIL is a local date-time without Z: the rule runs in time_zone)" if "UNTIL" in str(exc) else ""
            raise ValueError(f"rrule {self.rrule!r}: {exc}{hint}") from exc
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @cached_property
    def rule(self) -> rfc5545.rrule:
        anchor = DEFAULT_ANCHOR
        if self.start is not None:
            anchor = self.start if self.start.tzinfo is None else self.start.astimezone(self.zone)
        parsed = rrulestr(self.rrule, dtstart=anchor.replace(tzinfo=None, second=0, microsecond=0), cache=True)
        if not isinstance(parsed, rfc5545.rrule):
            raise ValueError("one rule only")
        return parsed

    def describe(self) -> str:
        return f"{self.rrule} in {self.time_zone}"


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def _instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """fold=0: a missing wall time moves forward by the gap, a repeated one is taken the first time (RFC 5545)."""
    return wall.replace(tzinfo=zone).astimezone(UTC)


def runs_between(drill: DrillSchedule, after: datetime, until: datetime) -> list[datetime]:
    """The UTC instants of the drill's runs in ``(after, until]``, exact across DST in its zone."""
    zone = drill.zone
    # A day of margin each side: wall time and UTC differ by at most a day, and gap shifts move runs by hours.
    walls = drill.rule.between(_wall(after, zone) - timedelta(days=1), _wall(until, zone) + timedelta(days=1), inc=True)
    return sorted({t for t in (_instant(w, zone) for w in walls) if after < t <= until})


def next_run(drill: DrillSchedule, after: datetime) -> datetime | None:
    """The first run strictly after ``after``, or None when the rule has ended (UNTIL, COUNT)."""
    zone = drill.zone
    for wall in drill.rule.xafter(_wall(after, zone) - timedelta(days=1), count=1000, inc=True):
        instant = _instant(wall, zone)
        if instant > after:
            return instant
    return None
