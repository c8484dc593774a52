"""Changes to a shift already announced: who is told that its hours moved, and what (pure).

A reminder tells a person of a shift once (``reminders.py``); the ledger keeps, per announced shift, its start and
the end last told. Each pass compares what each person was told (their announced shifts in a schedule, back to
back ones joined) with the on-call calculator as it is now, over the told hours still ahead:

* on call for none of them (an override covers all that is left, or the override that put them on call and was
  announced is gone): a *stand-down*, "you are no longer on call ... Anna covers it" / "an override ... was
  removed";
* on call from then on past the told end (an override that extends their shift, or one at its end that hands
  the next slot to them): an *extension*, "you stay on call until 12:00";
* on call at first, then no longer before the told end (a cover at the end or in the middle of the shift): told
  the new end at once, "now ends 13:00 ... Anna covers from then". A person who planned their day on "until 17:00"
  wants to know their evening is free as much as that it is not; hours they have again after a cover in the middle
  are a shift of their own, announced by its own reminder ahead of it. A cover at the start leaves the told end
  as it was: the shift now starting later is announced by its own reminder too.

A shift that now runs past the horizon (31 days) has no known end and is not told as extended. Each change is
claimed once in the ledger by the caller (a compare-and-set on the end told, or the stand-down instant), so it is
told once across passes and replicas; a stood-down shift given back before it starts is announced again by its
reminder (the claim takes the stood-down row back).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from alertrouter_router.ownership.model import OwnershipConfig, Schedule
from alertrouter_router.ownership.people import ContactMethodSpec, User
from alertrouter_router.ownership.reminders import HORIZON, Reminder, Stretch, local, reminder_method, stretches
from alertrouter_router.ownership.schedules import shifts_between


@dataclass(frozen=True)
class Told:
    """One ledger row: a shift announced to ``user_id``, with the end last told (``stood_down``: told it is off)."""

    user_id: str
    schedule_id: str
    starts_at: datetime
    ends_at: datetime
    override: bool
    stood_down: bool = False


@dataclass(frozen=True)
class ShiftChange:
    """A change to the told shift ``[starts_at, ends_at)`` from ``from_at`` (its start, or now if it began):
    ``new_end`` None is a stand-down; else the end it has now. ``rows`` are the starts of its ledger rows."""

    user_id: str
    schedule_id: str
    starts_at: datetime
    ends_at: datetime
    from_at: datetime
    new_end: datetime | None
    rows: tuple[datetime, ...]
    others: tuple[str, ...]  # the names of those on call instead (over the hours, or from the new end)
    removed: bool  # a stand-down of a shift an override began, that override no longer there
    contact_method: ContactMethodSpec


def _joined(rows: list[Told]) -> list[list[Told]]:
    """Back-to-back or overlapping rows of one person and schedule, joined: one told shift each."""
    groups: list[list[Told]] = []
    for row in sorted(rows, key=lambda r: (r.starts_at, r.ends_at)):
        if groups and row.starts_at <= max(r.ends_at for r in groups[-1]):
            groups[-1].append(row)
        else:
            groups.append([row])
    return groups


def _names(config: OwnershipConfig, found: Sequence[Stretch], user_id: str) -> tuple[str, ...]:
    users = config.users_by_id
    ids = dict.fromkeys(s.user_id for s in found if s.user_id != user_id)
    return tuple(users[i].name if i in users else i for i in ids)


def _own_override(schedule: Schedule, user_id: str, start: datetime, end: datetime) -> bool:
    return any(o.user == user_id and o.start < end and start < o.end for o in schedule.overrides)


def shift_changes(
    config: OwnershipConfig, told: Sequence[Told], due: Sequence[Reminder], now: datetime
) -> list[ShiftChange]:
    """Every change to a told shift, in the calculator as it is at ``now``. ``due`` are the reminders this pass
    claims: a row not in ``told`` yet (or stood down) counts as told, so nothing it says is told twice."""
    known = {(t.user_id, t.schedule_id, t.starts_at): t for t in told}
    rows = [t for t in told if not t.stood_down]
    for r in due:
        row = known.get((r.user_id, r.schedule_id, r.starts_at))
        if row is None or row.stood_down:
            rows.append(Told(r.user_id, r.schedule_id, r.starts_at, r.ends_at, r.override))
    by_person: dict[tuple[str, str], list[Told]] = {}
    for row in rows:
        by_person.setdefault((row.user_id, row.schedule_id), []).append(row)
    changes: list[ShiftChange] = []
    for (user_id, schedule_id), mine in sorted(by_person.items()):
        user, schedule = config.users_by_id.get(user_id), config.schedules_by_id.get(schedule_id)
        if user is None or schedule is None or not user.shift_reminders or not user.shift_reminder_minutes:
            continue
        method = reminder_method(user)
        if method is None:
            continue
        found = (_change(config, schedule, user, method, group, now) for group in _joined(mine))
        changes += [change for change in found if change is not None]
    return changes


def _change(
    config: OwnershipConfig,
    schedule: Schedule,
    user: User,
    method: ContactMethodSpec,
    group: list[Told],
    now: datetime,
) -> ShiftChange | None:
    """The change to one told shift (``group``, its rows), or None."""
    start, end = group[0].starts_at, max(r.ends_at for r in group)
    last = max(group, key=lambda r: (r.ends_at, r.starts_at))
    keys = (*(r.starts_at for r in group if r is not last), last.starts_at)
    ahead = max(start, min(now, end - timedelta(microseconds=1)))  # an ended shift: its last instant
    finish = end + HORIZON
    found = stretches(shifts_between(schedule, ahead, finish), ahead, finish, keep_cut=True)
    on = [s for s in found if s.user_id == user.id and s.start < end]
    told = (user.id, schedule.id, start, end, max(start, min(now, end)))
    if not on and end > now:  # none of what is left: stood down
        removed = group[0].override and not _own_override(schedule, user.id, ahead, end)
        others = _names(config, [s for s in found if s.start < end], user.id)
        return ShiftChange(*told, None, keys, others, removed, method)
    if on and on[0].end < end and end > now:  # cut short: a cover from there
        others = _names(config, [s for s in found if s.start <= on[0].end < s.end], user.id)
        return ShiftChange(*told, on[0].end, keys, others, False, method)
    if on and on[0].end > max(end, now) and not on[0].open_end:  # on call past the told end
        return ShiftChange(*told, on[0].end, keys, (), False, method)
    return None


def _who(names: tuple[str, ...]) -> tuple[str, str]:
    if len(names) == 1:
        return names[0], "covers"
    return ", ".join(names[:-1]) + f" and {names[-1]}", "cover"


def change_text(change: ShiftChange, schedule: Schedule, user: User) -> str:
    """What the person reads, in their own time zone (as the reminder it changes)."""
    name, zone = schedule.name or schedule.id, user.time_zone
    start, end = local(change.from_at, zone), local(change.ends_at, zone)
    if change.new_end is None:
        if change.removed:
            return f"An override for {name} was removed: you are no longer on call from {start} until {end} ({zone})."
        if not change.others:
            return f"You are no longer on call for {name} from {start} until {end} ({zone})."
        who, verb = _who(change.others)
        return f"You are no longer on call for {name} from {start} until {end}: {who} {verb} it ({zone})."
    new_end = local(change.new_end, zone)
    if change.new_end > change.ends_at:
        return f"You stay on call for {name} until {new_end}, not {end} as announced ({zone})."
    if not change.others:
        return f"Your on-call shift for {name} now ends {new_end}, not {end} ({zone})."
    who, verb = _who(change.others)
    return f"Your on-call shift for {name} now ends {new_end}, not {end}: {who} {verb} from then ({zone})."
