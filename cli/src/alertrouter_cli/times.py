"""Instants on the command line: ``now``, ``+2h`` / ``-1d`` from now, or ISO 8601 with an offset.

A wall time without an offset is refused rather than guessed: an on-call question asked for the wrong zone
gets a confidently wrong answer, and the router's API refuses such instants too.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_RELATIVE = re.compile(r"^([+-])(\d+)\s*(m|min|h|d|w)$")
_UNIT = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class InstantError(ValueError):
    """An instant the user wrote that cannot be read; the message says what to write instead."""


class UsageError(InstantError):
    """The options themselves are wrong (neither or both of two alternatives): exit 2, as typer's usage errors."""


def parse_instant(text: str, now: datetime | None = None) -> datetime:
    """The aware UTC instant ``text`` stands for; ``now`` anchors ``now`` and relative forms."""
    anchor = (now or datetime.now(UTC)).astimezone(UTC)
    value = text.strip()
    if value.lower() == "now":
        return anchor
    relative = _RELATIVE.match(value)
    if relative is not None:
        sign, amount, unit = relative.groups()
        try:  # +99999999d is past any calendar: a line saying so, not a traceback
            delta = timedelta(**{_UNIT[unit]: int(amount)})
            return anchor + delta if sign == "+" else anchor - delta
        except OverflowError:
            raise InstantError(f"{text!r} is too far from now") from None
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError as exc:
        raise InstantError(f"{text!r} is not an instant: write now, +2h, -1d or e.g. 2026-12-24T03:00:00Z") from exc
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise InstantError(f"{text!r} has no UTC offset: add one, e.g. {value}Z or {value}+01:00")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00:00-05:00: a valid date whose UTC instant is past year 9999
        raise InstantError(f"{text!r} has no UTC equivalent (out of range)") from None


def parse_duration(text: str) -> timedelta:
    """``30m``, ``2h``, ``1d``: how long a maintenance window lasts."""
    match = _RELATIVE.match("+" + text.strip())
    if match is None:
        raise InstantError(f"{text!r} is not a duration: write e.g. 30m, 2h or 1d")
    try:
        return timedelta(**{_UNIT[match.group(3)]: int(match.group(2))})
    except OverflowError:
        raise InstantError(f"{text!r} is too long a duration") from None


def parse_window(start: str | None, until: str | None, duration: str | None) -> tuple[datetime, datetime]:
    """A window from ``--from`` (default now) to ``--until`` or for ``--for``: exactly one of the two is given."""
    if (duration is None) == (until is None):
        raise UsageError("give --for DURATION or --until TIME")
    begins = parse_instant(start) if start else datetime.now(UTC)
    if until:
        return begins, parse_instant(until)
    try:
        return begins, begins + parse_duration(duration or "")
    except OverflowError:
        raise InstantError(f"--for {duration}: the end would be past any calendar") from None
