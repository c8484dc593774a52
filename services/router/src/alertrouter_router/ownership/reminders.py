"""Shift reminders: who is told, about which on-call shift, when, and on which contact method (pure).

From the same calculator as paging (``schedules.shifts_between``), a person's *shift* is one continuous stretch on
call in one schedule: consecutive turns, layers or overrides that keep them on call without a break count as one.
A reminder is due ``shift_reminder_minutes`` (default 60) before the shift starts, until the shift starts. A shift
that an override starts (the override is what puts the person on call at its first instant) stays due until the
shift ends, so an override made inside the lead time, or one already running, is announced at once.

``reminders_due(config, t0, t1)`` returns every reminder due at some instant of ``[t0, t1]``. Consecutive windows
may return the same reminder again: the caller claims each (user, schedule, shift start) once (the router's
``router_shift_reminder`` table), which also makes a restart, a reload or a second router harmless.

``reinstated_reminders(config, ended)`` covers the case no lead time can: an override removed while it ran puts
the people it covered back on call at that instant, mid-shift; they are told at once, "from" the removal (which
is also their claim's key, so each removal tells each of them once). One removed before it began gives its hours
back to a shift that may have been announced without them ("until 12:00"); those people are told at once too,
"from" the override's start. Whoever's shift the removal leaves to begin later is told by its own reminder.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from alertrouter_router.ownership.model import Override, OwnershipConfig, Schedule
from alertrouter_router.ownership.people import ContactMethodSpec, User
from alertrouter_router.ownership.schedules import MAX_SEARCH, Shift, shifts_between
from alertrouter_shared.events import ContactMethodType

CHAT = (ContactMethodType.SLACK, ContactMethodType.TEAMS)
HORIZON = timedelta(days=31)  # a shift is followed this far to find its end; longer ones say "until at least"
_NAMESPACE = uuid.UUID("1f0c6a52-52d5-4b6e-9a53-6f2c3c6c9a14")


@dataclass(frozen=True)
class Stretch:
    """One person's continuous time on call in one schedule (``open_end``: it goes on past the horizon)."""

    user_id: str
    start: datetime
    end: datetime
    override: bool
    open_end: bool = False


@dataclass(frozen=True)
class Reminder:
    user_id: str
    schedule_id: str
    starts_at: datetime
    ends_at: datetime
    remind_at: datetime
    override: bool
    open_end: bool
    contact_method: ContactMethodSpec
    reinstated: bool = False  # back on call because an override was removed early

    @property
    def id(self) -> str:
        """Stable for (user, schedule, shift start): the claim's key, and the reminder page's id."""
        return str(uuid.uuid5(_NAMESPACE, f"{self.user_id}|{self.schedule_id}|{self.starts_at.isoformat()}"))


def reminder_method(user: User) -> ContactMethodSpec | None:
    """The chosen method (``shift_reminder_contact_method``); else the first Slack or Teams method in the user's
    list; else the first email. SMS and webhooks only when chosen; never a voice call."""
    if user.shift_reminder_contact_method is not None:
        chosen = user.contact_methods_by_id.get(user.shift_reminder_contact_method)
        return chosen if chosen is not None and chosen.type is not ContactMethodType.VOICE else None
    for types in (CHAT, (ContactMethodType.EMAIL,)):
        found = next((m for m in user.contact_methods if m.type in types), None)
        if found is not None:
            return found
    return None


def stretches(shifts: list[Shift], start: datetime, end: datetime, *, keep_cut: bool = False) -> list[Stretch]:
    """Join each person's back-to-back shifts; drop stretches cut by ``start`` (their real start is unknown),
    unless ``keep_cut``."""
    open_by_user: dict[str, Stretch] = {}
    done: list[Stretch] = []
    for shift in shifts:
        current = open_by_user.get(shift.user_id)
        if current is not None and current.end == shift.start:
            open_by_user[shift.user_id] = Stretch(current.user_id, current.start, shift.end, current.override)
            continue
        if current is not None:
            done.append(current)
        open_by_user[shift.user_id] = Stretch(shift.user_id, shift.start, shift.end, shift.override_id is not None)
    done += open_by_user.values()
    return sorted(
        (Stretch(s.user_id, s.start, s.end, s.override, s.end >= end) for s in done if keep_cut or s.start > start),
        key=lambda s: (s.start, s.user_id),
    )


def _lookback(schedule: Schedule) -> timedelta:
    """Far enough back that a shift overlapping the window is seen from its real start (one turn or override), at
    most MAX_SEARCH as the calculator's own lookups: an override to 2199 made every pass build every turn since the
    layer began (4.5 s for hourly turns since 2010), blocking the router's loop. A stretch begun before that is
    cut, and a cut stretch is never reminded of (its start was long ago)."""
    longest = [layer.turn.longest() for layer in schedule.layers]
    longest += [o.end - o.start for o in schedule.overrides]
    return min(max([timedelta(days=1), *longest]) + timedelta(days=1), MAX_SEARCH)


def reminders_due(config: OwnershipConfig, t0: datetime, t1: datetime) -> list[Reminder]:
    """Every reminder due at some instant of ``[t0, t1]``, in time order (see the module docstring)."""
    users = config.users_by_id
    leads = [u.shift_reminder_minutes for u in config.users if u.shift_reminders and u.shift_reminder_minutes]
    if not leads:
        return []
    ahead = t1 + timedelta(minutes=max(leads))
    due: list[Reminder] = []
    for schedule in config.schedules:
        begin, finish = t0 - _lookback(schedule), ahead + HORIZON
        for stretch in stretches(shifts_between(schedule, begin, finish), begin, finish):
            user = users.get(stretch.user_id)
            if user is None or not user.shift_reminders or not user.shift_reminder_minutes:
                continue
            remind_at = stretch.start - timedelta(minutes=user.shift_reminder_minutes)
            due_until = stretch.end if stretch.override else stretch.start
            method = reminder_method(user)
            if remind_at <= t1 and due_until > t0 and method is not None:
                due.append(
                    Reminder(
                        user.id,
                        schedule.id,
                        stretch.start,
                        stretch.end,
                        remind_at,
                        stretch.override,
                        stretch.open_end,
                        method,
                    )
                )
    return sorted(due, key=lambda r: (r.remind_at, r.schedule_id, r.user_id))


@dataclass(frozen=True)
class EndedOverride:
    """An override of ``schedule_id`` removed at ``ended_at``, before it ended (while it ran, or before it began)."""

    schedule_id: str
    override: Override
    ended_at: datetime

    @property
    def back_at(self) -> datetime:
        """When the people it covered are back on call: at its removal, or at its start if it had not begun."""
        return max(self.ended_at, self.override.start)

    def tells(self, stretch: Stretch, user: User) -> bool:
        """Whether the person back on call in ``stretch`` learns of it only from the removal. Always when it ran;
        removed before it began, when their shift began before its start and was announced (or due to be) by the
        removal, so without these hours. Otherwise their shift's own reminder, still to come, tells it whole."""
        if self.override.start <= self.ended_at:
            return True
        remind_at = stretch.start - timedelta(minutes=user.shift_reminder_minutes)
        return stretch.start < self.back_at and remind_at <= self.ended_at


def _on_call(schedule: Schedule, at: datetime) -> set[str]:
    return {s.user_id for s in shifts_between(schedule, at, at + timedelta(seconds=1)) if s.start <= at}


def reinstated_reminders(config: OwnershipConfig, ended: list[EndedOverride]) -> list[Reminder]:
    """The people on call when a removed override would have covered them (right after its removal, or at its
    start) who were not with it, with their shift from that instant, due at the removal (``EndedOverride.tells``).
    Computed with and without the override, whether or not the configuration still holds it."""
    users = config.users_by_id
    due: list[Reminder] = []
    for item in ended:
        configured = config.schedules_by_id.get(item.schedule_id)
        if configured is None:
            continue
        others = [o for o in configured.overrides if o.id != item.override.id]
        without = configured.model_copy(update={"overrides": others})
        with_it = configured.model_copy(update={"overrides": [*others, item.override]})
        at = item.back_at
        back = _on_call(without, at) - _on_call(with_it, at)
        begin, finish = at - _lookback(without), at + HORIZON
        # the reminder starts when the person is back, so a stretch begun before ``begin`` (someone on call for
        # many turns in a row) counts too: dropping it told them nothing
        for stretch in stretches(shifts_between(without, begin, finish), begin, finish, keep_cut=True):
            user = users.get(stretch.user_id)
            if stretch.user_id not in back or not stretch.start <= at < stretch.end or user is None:
                continue
            method = reminder_method(user)
            if (
                user.shift_reminders
                and user.shift_reminder_minutes
                and method is not None
                and item.tells(stretch, user)
            ):
                when = item.ended_at
                due.append(Reminder(user.id, without.id, at, stretch.end, when, False, stretch.open_end, method, True))
    return sorted(due, key=lambda r: (r.remind_at, r.schedule_id, r.user_id))


def local(instant: datetime, zone: str) -> str:
    """``Mon 30 Mar 2026 09:00 CEST``: a day, a date, a time and the zone's abbreviation at that instant."""
    shown = instant.astimezone(ZoneInfo(zone))
    return f"{shown:%a} {shown.day} {shown:%b %Y %H:%M} {shown.tzname()}"


def reminder_text(reminder: Reminder, schedule: Schedule, user: User, now: datetime | None = None) -> str:
    """What the person reads: which schedule, when the shift starts and ends, in their own time zone. Sent at
    ``now`` after its start (a database outage or a restart over it), it says the shift started."""
    name = schedule.name or schedule.id
    start, end = local(reminder.starts_at, user.time_zone), local(reminder.ends_at, user.time_zone)
    until = f"until at least {end}" if reminder.open_end else f"until {end}"
    if reminder.override:
        return f"An override puts you on call for {name} from {start} {until} ({user.time_zone})."
    if reminder.reinstated:
        return f"An override for {name} was removed: you are on call again from {start} {until} ({user.time_zone})."
    starts = "started" if now is not None and now >= reminder.starts_at else "starts"
    return f"Your on-call shift for {name} {starts} {start} and lasts {until} ({user.time_zone})."
