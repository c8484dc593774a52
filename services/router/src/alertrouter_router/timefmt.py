"""Instants and durations as people read them: in their own time zone, to the minute (the console), or in UTC to
the second (the decision paragraph, decisions/explain.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

# An instant as decision reasons write it (``datetime.isoformat``): "paged again at 2026-12-06T22:15:00+00:00".
_ISO_INSTANT = re.compile(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})")


def _instant(value: datetime | str | None) -> datetime | None:
    if value is None or value == "":
        return None
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def local_time(value: datetime | str | None, zone: str = "UTC", with_day: bool = True) -> str:
    """An instant in a person's zone, e.g. ``Fri 4 Dec 14:05 CET``; an empty string for none."""
    at = _instant(value)
    if at is None:
        return ""
    here = at.astimezone(ZoneInfo(zone))
    shown = f"{here:%a} {here.day} {here:%b %H:%M}" if with_day else f"{here:%H:%M}"
    return f"{shown} {here.tzname()}"


def instants_in(text: str, show: Callable[[datetime], str]) -> str:
    """``text`` with each ISO 8601 instant in it (as decision reasons write them) replaced by ``show`` of it; a
    match that is no instant (month 13) stays as it was."""

    def shown(match: re.Match[str]) -> str:
        try:
            at = _instant(match.group(0).replace("Z", "+00:00"))
        except ValueError:
            return match.group(0)
        return show(at) if at is not None else match.group(0)

    return _ISO_INSTANT.sub(shown, text)


def local_times_in(text: str, zone: str) -> str:
    """A decision's reason with its instants in the person's zone, as the console shows every other time: the
    stored reason keeps UTC ISO 8601 (the API's, the same for everyone), which at 3 a.m. in New York read as
    "paged again at 2026-12-07T03:15:00+00:00" beside "Sun 6 Dec 22:10 EST"."""
    return instants_in(text, lambda at: local_time(at, zone))


def utc_time(value: object) -> str:
    """An instant (a datetime, or ISO 8601 as the explanation JSON stores it) as ``2026-12-06 02:48:47 UTC``;
    anything that is not one as it is."""
    if not isinstance(value, datetime | str):
        return str(value)
    try:
        at = _instant(value)
    except ValueError:
        return str(value)
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if at else str(value)


def iso(value: datetime | str | None) -> str:
    at = _instant(value)
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z") if at else ""


def duration(seconds: float | None) -> str:
    """Seconds as the largest two units: ``3h 12m``, ``45s``; an em dash for none."""
    if seconds is None:
        return "—"
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    shown = [f"{n}{unit}" for n, unit in parts if n][:2]
    return " ".join(shown) or "0s"
