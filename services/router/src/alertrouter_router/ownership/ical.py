"""iCalendar feeds of on-call shifts, per schedule and per user, so engineers see them in their calendar.

Shifts are never clipped to the requested range (a shift overlapping it is included whole), so each shift
keeps the same UID, start and end whatever range a calendar client asks for. Their times are UTC; the feed's zone
(the schedule's, or the person's) is there as a VTIMEZONE, which also keeps a feed with no shift in its range a
valid calendar: RFC 5545 wants at least one component, and strict clients refuse an empty VCALENDAR.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, TimezoneDaylight, TimezoneStandard

from alertrouter_router.ownership.model import OwnershipConfig, Schedule
from alertrouter_router.ownership.people import User
from alertrouter_router.ownership.schedules import Shift, search_radius, shifts_between

PRODID = "-//alertrouter//on-call shifts//EN"


def shift_uid(schedule_id: str, shift: Shift) -> str:
    """Stable identity of a shift: same schedule, source, person and start give the same UID."""
    material = f"{schedule_id}|{shift.source}|{shift.user_id}|{shift.start.astimezone(UTC).isoformat()}"
    return hashlib.sha256(material.encode()).hexdigest()[:32] + "@alertrouter"


def whole_shifts(schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """Shifts overlapping ``[start, end)``, unclipped (computed over a wider range, then filtered)."""
    radius = max(search_radius(schedule, start), search_radius(schedule, end))
    return [s for s in shifts_between(schedule, start - radius, end + radius) if s.start < end and s.end > start]


def _event(schedule: Schedule, shift: Shift, users: Mapping[str, User], stamp: datetime) -> Event:
    user = users.get(shift.user_id)
    name = user.name if user else shift.user_id
    event = Event()
    event.add("uid", shift_uid(schedule.id, shift))
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("dtstart", shift.start.astimezone(UTC))
    event.add("dtend", shift.end.astimezone(UTC))
    event.add("summary", f"On call: {name} ({schedule.name})")
    event.add("description", f"schedule {schedule.id}, {shift.source}, user {shift.user_id}")
    event.add("x-alertrouter-schedule", schedule.id)
    event.add("x-alertrouter-user", shift.user_id)
    event.add("x-alertrouter-source", shift.source)
    return event


def _calendar(name: str, zone: str, start: datetime, end: datetime) -> Calendar:
    """The calendar with its zone's VTIMEZONE over the range: a component even when no shift falls in it (a person
    on no rotation for the next weeks, a rotation that starts later), where an empty VCALENDAR is not valid."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", name)
    calendar.add_component(vtimezone(zone, start.astimezone(UTC) - timedelta(days=1), end + timedelta(days=1)))
    return calendar


def vtimezone(zone: str, start: datetime, end: datetime) -> Timezone:
    """The zone's offsets over ``[start, end)``: the one in force at ``start``, then each change. RFC 5545 wants
    an observance's DTSTART in the local time *before* it (TZOFFSETFROM); icalendar's ``from_tzid`` writes the
    spring-forward onset in the new time (03:00 for Berlin's 02:00), which a client reads as an hour late."""
    info = ZoneInfo(zone)
    timezone = Timezone()
    timezone.add("tzid", zone)
    at = start.astimezone(info)
    timezone.add_component(_observance(at, at.utcoffset() or timedelta(0), at.replace(tzinfo=None, microsecond=0)))
    for change in _offset_changes(info, at.astimezone(UTC), end.astimezone(UTC)):
        before = (change - timedelta(seconds=1)).astimezone(info).utcoffset() or timedelta(0)
        timezone.add_component(_observance(change.astimezone(info), before, (change + before).replace(tzinfo=None)))
    return timezone


def _observance(at: datetime, before: timedelta, onset: datetime) -> TimezoneStandard | TimezoneDaylight:
    observance = TimezoneDaylight() if at.dst() else TimezoneStandard()
    observance.add("tzname", at.tzname() or str(at.utcoffset()))
    observance.add("dtstart", onset)
    observance.add("tzoffsetfrom", before)
    observance.add("tzoffsetto", at.utcoffset() or timedelta(0))
    return observance


def _offset_changes(info: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """UTC instants (to the second) where the zone's offset, abbreviation or DST flag changes: zones change at
    most once in any hour, so an hourly walk finds each change and a bisection pins it."""
    changes: list[datetime] = []
    hour = timedelta(hours=1)
    at = start
    while at < end:
        if _rules(at, info) != _rules(at + hour, info):
            low, high = at, at + hour
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                low, high = (middle, high) if _rules(middle, info) == _rules(low, info) else (low, middle)
            changes.append(high.replace(microsecond=0))
        at += hour
    return changes


def _rules(instant: datetime, info: ZoneInfo) -> tuple[timedelta | None, timedelta | None, str | None]:
    local = instant.astimezone(info)
    return local.utcoffset(), local.dst(), local.tzname()


def schedule_calendar(
    schedule: Schedule, users: Mapping[str, User], start: datetime, end: datetime, *, generated_at: datetime
) -> bytes:
    """Every shift of ``schedule`` overlapping ``[start, end)`` as ``text/calendar`` bytes."""
    calendar = _calendar(f"On call: {schedule.name}", schedule.time_zone, start, end)
    for shift in whole_shifts(schedule, start, end):
        calendar.add_component(_event(schedule, shift, users, generated_at))
    return bytes(calendar.to_ical())


def user_calendar(
    config: OwnershipConfig, user_id: str, start: datetime, end: datetime, *, generated_at: datetime
) -> bytes:
    """The shifts of one user across every schedule, overlapping ``[start, end)``."""
    user = config.users_by_id.get(user_id)
    calendar = _calendar(f"On call: {user.name if user else user_id}", user.time_zone if user else "UTC", start, end)
    for schedule in config.schedules:
        for shift in whole_shifts(schedule, start, end):
            if shift.user_id == user_id:
                calendar.add_component(_event(schedule, shift, config.users_by_id, generated_at))
    return bytes(calendar.to_ical())
