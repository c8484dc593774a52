"""``alertrouter report oncall``: how a team's on-call is going (the router's ``/v1/reports/oncall``)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from alertrouter_cli.client import ApiClient, CliError
from alertrouter_cli.online import JsonFlag
from alertrouter_cli.output import emit, emit_json, table, when
from alertrouter_cli.times import InstantError, parse_instant

report_app = typer.Typer(help="Reports computed by the router from what it stored.", no_args_is_help=True)


def duration(seconds: float | None) -> str:
    """``45s``, ``8m``, ``2m 5s``, ``1h``, ``26h 30m``: to the second below an hour, to the minute above."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes}m" + (f" {rest}s" if rest else "")
    hours, rest = divmod(whole, 3600)
    return f"{hours}h" + (f" {rest // 60}m" if rest // 60 else "")


def _instant(text: str | None) -> str | None:
    try:
        return None if text is None else parse_instant(text).isoformat()
    except InstantError as exc:
        raise CliError(str(exc)) from exc


def _services(body: dict[str, Any]) -> str:
    rows = [
        [
            s["service"],
            s["team"] or "-",
            str(s["incidents"]),
            f"{duration(s['mtta_seconds']['median'])} / {duration(s['mtta_seconds']['p90'])}",
            f"{duration(s['mttr_seconds']['median'])} / {duration(s['mttr_seconds']['p90'])}",
            str(s["escalated_past_level_1"]),
            duration(s["longest_unacknowledged_seconds"])
            + (f" ({s['longest_unacknowledged_incident']})" if s["longest_unacknowledged_incident"] else ""),
        ]
        for s in body["services"]
    ]
    headers = [
        "SERVICE",
        "TEAM",
        "INCIDENTS",
        "MTTA MEDIAN / P90",
        "MTTR MEDIAN / P90",
        "PAST LEVEL 1",
        "LONGEST UNACKED",
    ]
    return table(headers, rows) if rows else "no services"


def _people(body: dict[str, Any]) -> str:
    rows = [
        [p["user"], p["time_zone"], str(p["pages"]), str(p["night_pages"]), str(p["weekend_pages"])]
        for p in body["people"]
    ]
    return table(["USER", "TIME ZONE", "PAGES", "NIGHT", "WEEKEND"], rows) if rows else "nobody was paged"


def _weeks(body: dict[str, Any]) -> str:
    rows = [
        [
            w["week_start"][:10],
            str(w["incidents"]),
            str(w["pages"]),
            duration(w["mtta_median_seconds"]),
            duration(w["mttr_median_seconds"]),
        ]
        for w in body["weeks"]
    ]
    return table(["WEEK OF", "INCIDENTS", "PAGES", "MTTA MEDIAN", "MTTR MEDIAN"], rows)


@report_app.command("oncall")
def report_oncall(
    team: Annotated[str | None, typer.Option("--team", "-t", help="one team (default: every team)")] = None,
    since: Annotated[str | None, typer.Option(help="start: -7d, or ISO 8601 with offset (default until - 28d)")] = None,
    until: Annotated[str | None, typer.Option(help="end, exclusive: now, -1d or ISO 8601 (default now)")] = None,
    as_json: JsonFlag = False,
) -> None:
    """On-call health: incidents, MTTA/MTTR and escalations per service; pages (at night, at weekends) per person.

    Drills are left out. Night and weekend are judged in each person's own time zone.
    """
    with ApiClient() as api:
        body = api.get("/v1/reports/oncall", team=team, since=_instant(since), until=_instant(until))
    if as_json:
        emit_json(body)
        return
    who = f"team {body['team']}" if body["team"] else "every team"
    emit(f"on-call health of {who}, {when(body['since'])} to {when(body['until'])} (drills left out)\n")
    emit(_services(body) + "\n")
    emit(_people(body) + "\n")
    emit(_weeks(body))
