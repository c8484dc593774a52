"""Errors the services logged during the run, counted from their JSON log files.

Why: a benchmark that only counts pages would hide alerts a service gave up on; the report lists every
error-level event (with the exception's last line) so a failure seen under load is not lost in the logs.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

ERROR_LEVELS = ('"level": "error"', '"level": "critical"')
HEX_OR_NUMBER = re.compile(r"\b(0x)?[0-9a-f]{6,}\b|\d+")
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Timeout|Exit)\w*: ")


def _cause(exception: str) -> str:
    """The first ``SomeError: message`` line (the root cause of a chained traceback), else the last line."""
    lines = exception.strip().splitlines()
    return next((line for line in lines if EXCEPTION_LINE.match(line)), lines[-1])


def _key(entry: dict[str, object]) -> str:
    key = str(entry.get("event", "?"))
    exception = entry.get("exception")
    if isinstance(exception, str) and exception.strip():
        key += ": " + HEX_OR_NUMBER.sub("N", _cause(exception))[:160]
    return key


def error_events(log: Path) -> dict[str, int]:
    counts: Counter[str] = Counter()
    try:
        with log.open(errors="replace") as lines:
            for line in lines:
                if not any(level in line for level in ERROR_LEVELS):
                    continue
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if isinstance(entry, dict):
                    counts[_key(entry)] += 1
    except OSError:
        return {}
    return dict(counts.most_common())


def service_errors(
    workdir: Path, services: tuple[str, ...] = ("ingest", "router", "notifier")
) -> dict[str, dict[str, int]]:
    return {name: events for name in services if (events := error_events(workdir / f"{name}.log"))}
