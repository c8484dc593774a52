"""Plain output: aligned tables for people, JSON for scripts; nothing depends on the terminal's width."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import typer


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell; the last column is not padded, so lines have no trailing blanks."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    lines = []
    for row in [headers, *rows]:
        cells = [str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def emit(text: str) -> None:
    typer.echo(text)


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def emit_more(kind: str, page: dict[str, Any]) -> None:
    """After a page's table: a list that goes on says so and how to read on, rather than look complete."""
    if page.get("next_cursor"):
        emit(f"more {kind}: add --cursor {page['next_cursor']} for the next page")


def when(value: str | datetime | None) -> str:
    """An instant as ``2026-12-04 17:00 UTC`` (minutes are the resolution people act on); ``-`` when absent."""
    if value is None or value == "":
        return "-"
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def times_in(text: str) -> str:
    """A decision's reason with its instants as :func:`when` shows them: the router keeps ISO 8601 to the
    microsecond there, and ``snooze`` printed "paged again at 2026-12-07T22:19:26.894951+00:00" where every other
    time the CLI shows is in UTC to the minute."""
    from alertrouter_router.timefmt import instants_in  # the router's reading of its own reasons

    return instants_in(text, when)


def selected_by(selection: dict[str, Any]) -> str:
    """How a person was selected, from the API's or the route test's ``selected_by`` object."""
    kind, ident = selection.get("kind"), selection.get("id")
    if kind == "schedule":
        via = f"override {selection['override']}" if selection.get("override") else f"layer {selection.get('layer')}"
        return f"schedule {ident}, {via}"
    return f"{kind} {ident}"


def notifications(items: list[dict[str, Any]]) -> str:
    """``webhook now, sms +5m``: which contact method types are used, and when after the level fires."""
    parts = [f"{n['type']} {'now' if not n['delay_minutes'] else '+' + str(n['delay_minutes']) + 'm'}" for n in items]
    return ", ".join(parts) or "-"
