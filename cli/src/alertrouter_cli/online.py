"""Online commands: questions and actions against the router's SRE API (``/v1``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer

from alertrouter_cli.client import EXIT_USAGE, ApiClient, CliError, acting_user, load_settings, quoted
from alertrouter_cli.incident_ids import incident_id
from alertrouter_cli.output import emit, emit_json, emit_more, notifications, selected_by, table, times_in, when
from alertrouter_cli.times import InstantError, UsageError, parse_instant, parse_window

drill_app = typer.Typer(
    help="Drills: rehearse an incident on the real path, or check the chain silently.", no_args_is_help=True
)
JsonFlag = Annotated[bool, typer.Option("--json", help="print the API's JSON instead of a table")]
CursorOption = Annotated[str | None, typer.Option(help="the next page: the cursor the previous one named")]
# A span of time from now or a given start, for maintenance windows and overrides (times.parse_window).
ForOption = Annotated[str | None, typer.Option("--for", help="how long from the start: 30m, 8h, 1d")]
UntilOption = Annotated[str | None, typer.Option(help="end instant (instead of --for)")]
FromOption = Annotated[str | None, typer.Option("--from", help="start instant (default now)")]
IncidentArg = Annotated[
    str, typer.Argument(help="the incident's id, or the start of an open one's as messages show it (#7ee2dd81)")
]


def time_span(start: str | None, until: str | None, duration: str | None) -> tuple[datetime, datetime]:
    """The span ``--from``/``--until``/``--for`` give (times.parse_window); a refusal is the command's error."""
    try:
        return parse_window(start, until, duration)
    except UsageError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc
    except InstantError as exc:
        raise CliError(str(exc)) from exc


def _instant(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return parse_instant(text).isoformat()
    except InstantError as exc:
        raise CliError(str(exc)) from exc


def _level_rows(levels: list[dict[str, Any]], service: str | None = None) -> list[list[str]]:
    rows: list[list[str]] = []
    for level in levels:
        prefix = [service] if service is not None else []
        if not level["targets"]:
            rows.append([*prefix, str(level["level"]), "(nobody)", "", "", "", ""])
        for target in level["targets"]:
            selection = target["selected_by"]
            rows.append(
                [
                    *prefix,
                    str(level["level"]),
                    target["user"],
                    target.get("name") or "",
                    selected_by(selection),
                    when(selection.get("until")),
                    notifications(target["notifications"]),
                ]
            )
    return rows


def oncall(
    service: Annotated[str | None, typer.Argument(help="service id")] = None,
    team: Annotated[str | None, typer.Option("--team", "-t", help="every service of this team")] = None,
    at: Annotated[str | None, typer.Option(help="instant: now, +2h, -1d or ISO 8601 with offset")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Who is on call for a service (or each service of a team), per level, and why."""
    if (service is None) == (team is None):
        raise CliError("give a SERVICE or --team TEAM", EXIT_USAGE)
    with ApiClient() as api:
        body = api.get("/v1/oncall", service=service, team=team, at=_instant(at))
    if as_json:
        emit_json(body)
        return
    columns = ["LEVEL", "USER", "NAME", "SELECTED BY", "UNTIL", "NOTIFIED BY"]
    if service is not None:
        emit(f"{body['service']}: team {body['team']}, policy {body['policy']}, at {when(body['at'])}\n")
        emit(table(columns, _level_rows(body["levels"])))
        return
    emit(f"team {body['team']} at {when(body['at'])}\n")
    rows = [row for item in body["services"] for row in _level_rows(item["levels"], item["service"])]
    emit(table(["SERVICE", *columns], rows) if rows else "the team owns no service")


def why(
    decision: Annotated[str | None, typer.Argument(help="decision id")] = None,
    key: Annotated[str | None, typer.Option("--key", "-k", help="the latest decision for this dedup key")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Why a routing decision was made, as a paragraph (or the decision's full JSON)."""
    if (decision is None) == (key is None):
        raise CliError("give a DECISION id or --key DEDUP_KEY", EXIT_USAGE)
    with ApiClient() as api:
        if key is not None:
            items = api.get("/v1/decisions", dedup_key=key, limit=1)["items"]
            if not items:
                raise CliError(f"no decision for dedup key {key!r}")
            decision = str(items[0]["id"])
        path = f"/v1/decisions/{quoted(decision or '')}"
        emit_json(api.get(path)) if as_json else emit(api.text(f"{path}/explain"))


def incidents(
    team: Annotated[str | None, typer.Option("--team", "-t")] = None,
    service: Annotated[str | None, typer.Option("--service", "-s")] = None,
    status: Annotated[str | None, typer.Option(help="triggered, acknowledged, resolved or open")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    cursor: CursorOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Incidents, newest first."""
    with ApiClient() as api:
        body = api.get("/v1/incidents", team=team, service=service, status=status, limit=limit, cursor=cursor)
    if as_json:
        emit_json(body)
        return
    rows = [
        [
            item["id"],
            item["status"],
            item.get("service_id") or "-",
            item.get("team_id") or "-",
            when(item["opened_at"]),
            str(item.get("alert_count", "")),
            item.get("summary") or item["dedup_key"],
        ]
        for item in body["items"]
    ]
    emit(table(["ID", "STATUS", "SERVICE", "TEAM", "OPENED", "ALERTS", "SUMMARY"], rows) if rows else "no incidents")
    emit_more("incidents", body)


def _act(action: str, incident: str, by: str | None, note: str, as_json: bool, **more: object) -> None:
    """An incident action, then its outcome in one line."""
    who, incident, body = _post_action(action, incident, by, {"note": note, **more})
    if as_json:
        emit_json(body)
    elif body.get("changed") and action in ("escalate", "snooze"):
        emit(f"incident {incident} {body['status']}: {times_in(body['reason'])}")
    elif body.get("changed"):
        # The API's actor: a machine token without --by acts as its client id, which the timeline shows too.
        emit(f"incident {incident} {body['status']} by {body.get('by') or who or 'you'}")
    elif body.get("reason"):  # decided, and nothing moved: the decision says why (e.g. no level follows)
        emit(f"incident {incident} {body['status']}, nothing changed: {times_in(body['reason'])}")
    else:
        emit(f"incident {incident} was already {body['status']}: nothing changed")


def _post_action(action: str, incident: str, by: str | None, payload: dict[str, object]) -> tuple[str | None, str, Any]:
    """Who acts, the incident's whole id (``incident`` may be the start of an open one's) and the API's answer."""
    settings = load_settings()
    who = acting_user(settings, by)
    with ApiClient(settings) as api:
        whole = incident_id(api, incident)
        return who, whole, api.post(f"/v1/incidents/{quoted(whole)}/{action}", {**_by(who), **payload})


def _by(who: str | None) -> dict[str, str]:
    return {"by": who} if who else {}


ByOption = Annotated[
    str | None, typer.Option("--by", help="who acts (default: ALERTROUTER_USER, else the token's own identity)")
]
NoteOption = Annotated[str, typer.Option("--note", "-m", help="a note for the timeline")]


def ack(incident: IncidentArg, by: ByOption = None, note: NoteOption = "", as_json: JsonFlag = False) -> None:
    """Acknowledge an incident: escalation stops."""
    _act("acknowledge", incident, by, note, as_json)


def resolve(incident: IncidentArg, by: ByOption = None, note: NoteOption = "", as_json: JsonFlag = False) -> None:
    """Resolve an incident."""
    _act("resolve", incident, by, note, as_json)


def note(incident: IncidentArg, text: str, by: ByOption = None, as_json: JsonFlag = False) -> None:
    """Add a note to an incident's timeline."""
    _, incident, body = _post_action("notes", incident, by, {"note": text})
    if as_json:
        emit_json(body)
    else:
        emit(f"note added to incident {incident}")


def snooze(
    incident: IncidentArg,
    minutes: Annotated[int, typer.Option("--minutes", min=1, max=1440, help="page again after this long")] = 30,
    by: ByOption = None,
    note: NoteOption = "",
    as_json: JsonFlag = False,
) -> None:
    """Acknowledge now and be paged again after some minutes unless it is resolved."""
    _act("snooze", incident, by, note, as_json, minutes=minutes)


def escalate(
    incident: IncidentArg,
    level: Annotated[int | None, typer.Option("--level", min=1, help="the level to page (default: the next)")] = None,
    by: ByOption = None,
    note: NoteOption = "",
    as_json: JsonFlag = False,
) -> None:
    """Escalate now: page the next level (or a chosen one) without waiting for the delay."""
    _act("escalate", incident, by, note, as_json, **({"level": level} if level else {}))


def heartbeats(as_json: JsonFlag = False) -> None:
    """Heartbeat integrations: last beat, next due time, and whether monitoring has gone silent."""
    with ApiClient() as api:
        body = api.get("/v1/heartbeats")
    if as_json:
        emit_json(body)
        return
    rows = [
        [
            h["integration"],
            h.get("service") or "-",
            h["state"] + (" (overdue)" if h.get("overdue") else ""),
            when(h["last_beat_at"]) if h.get("last_beat_at") else "-",
            when(h["next_due_at"]) if h.get("next_due_at") else "-",
        ]
        for h in body["heartbeats"]
    ]
    emit(table(["INTEGRATION", "SERVICE", "STATE", "LAST BEAT", "NEXT DUE"], rows) if rows else "no heartbeats")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m {rest:02d}s" if minutes else f"{seconds:.1f}s"


def _paging_report(body: dict[str, Any]) -> None:
    emit(f"drill {body['id']} for {body['service']}, started {when(body['started_at'])} by {body['requested_by']}")
    ended = f", ended by {body['ended_by']}" if body.get("ended_by") else ""
    limit = f"; time limit {when(body['ends_at'])}" if body.get("ends_at") else ""
    emit(f"status: {body['status']}{ended}; incident {body['incident'] or '-'}{limit}")
    who = f" ({body['acknowledged_by']})" if body.get("acknowledged_by") else ""
    emit(
        f"time to first page {_duration(body['time_to_first_page_seconds'])}, first reached "
        f"{_duration(body['time_to_first_reach_seconds'])}, acknowledged after "
        f"{_duration(body['time_to_acknowledge_seconds'])}{who}\n"
    )
    _paged(body)


_CONTACT_HEADERS = ["USER", "CHANNEL", "PAGED", "STATUS", "REACHED"]


def _contact(c: dict[str, Any]) -> list[str]:
    """A paged contact method: who, how, when it went out, its last delivery status, when reached or why not."""
    return [
        c["user"],
        c["channel"],
        when(c["published_at"]),
        c["status"],
        when(c["reached_at"]) if c["reached_at"] else (c["failure"] or "-"),
    ]


def _paged(body: dict[str, Any]) -> None:
    """Those the escalation paged, per level and round, then those a person paged (reassigned, added as a
    responder): the report printed only the first, so a drill reassigned to ben said he acknowledged it but showed
    none of his pages, nor whether they reached him."""
    rows = [
        [str(level["level"]), str(level["round"]), *_contact(c)] for level in body["levels"] for c in level["contacts"]
    ]
    responders = [_contact(c) for c in body.get("responders") or []]
    if rows:
        emit(table(["LEVEL", "ROUND", *_CONTACT_HEADERS], rows))
    if responders:
        emit(("\n" if rows else "") + "paged by a person (reassigned, added as a responder):")
        emit(table(_CONTACT_HEADERS, responders))
    if not rows and not responders:
        emit("nobody paged yet")


def _silent_report(body: dict[str, Any]) -> None:
    emit(f"silent drill {body['id']} for {body['service']} at {when(body['started_at'])}: {body['status']}")
    route = body.get("route", {})
    emit(f"route: {route.get('reason', '-')}; policy {body.get('policy') or '-'}\n")
    rows = [
        [str(level["level"]), str(level["round"]), t["user"], ", ".join(m["type"] for m in t["contact_methods"]) or "-"]
        for level in body.get("levels", [])
        for t in level["targets"] or [{"user": "(nobody)", "contact_methods": []}]
    ]
    if rows:
        emit(table(["LEVEL", "ROUND", "USER", "CONTACT METHODS"], rows))
    providers = body.get("providers") or {}
    if providers.get("not_checked"):
        emit(f"\nproviders: {providers['not_checked']}")
    checked = [[p["channel"], p["provider"], p["status"], p["detail"]] for p in providers.get("providers", [])]
    if checked:
        emit("\n" + table(["CHANNEL", "PROVIDER", "CHECK", "DETAIL"], checked))


def _report(body: dict[str, Any]) -> None:
    _silent_report(body) if body["silent"] else _paging_report(body)
    if body.get("failures"):
        emit("\nfailures:")
        for failure in body["failures"]:
            emit(f"  - {failure}")


@drill_app.command("run")
def drill_run(
    service: str,
    silent: Annotated[bool, typer.Option("--silent", help="check the chain without paging anyone")] = False,
    by: ByOption = None,
    note: NoteOption = "",
    minutes: Annotated[
        int | None,
        typer.Option(
            "--minutes", min=1, max=480, help="the drill's time limit: its incident is resolved then (default 30)"
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Run a drill for a service: a synthetic alert marked DRILL pages as configured (or, --silent, a check); the
    router ends a paging drill at its time limit if nobody has resolved it."""
    settings = load_settings()
    asked: dict[str, Any] = {"silent": silent, **_by(acting_user(settings, by)), "note": note}
    if minutes is not None:
        asked["minutes"] = minutes
    with ApiClient(settings) as api:
        body = api.post(f"/v1/services/{quoted(service)}/drills", asked)
    if as_json:
        emit_json(body)
    elif silent:
        _report(body)
    else:
        emit(f"drill {body['id']} started for {service}: its alert is raised, pages will say DRILL")
        if body.get("ends_at"):
            emit(f"it ends at {when(body['ends_at'])} unless resolved before")
        emit(f"report: alertrouter drill report {body['id']}")


@drill_app.command("report")
def drill_report(drill: str, as_json: JsonFlag = False) -> None:
    """A drill's report: time to first page, who was reached on which channel and when, failures."""
    with ApiClient() as api:
        body = api.get(f"/v1/drills/{quoted(drill)}")
    emit_json(body) if as_json else _report(body)


@drill_app.command("list")
def drill_list(
    service: str,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    cursor: CursorOption = None,
    as_json: JsonFlag = False,
) -> None:
    """A service's drills, newest first."""
    with ApiClient() as api:
        body = api.get(f"/v1/services/{quoted(service)}/drills", limit=limit, cursor=cursor)
    if as_json:
        emit_json(body)
        return
    rows = [
        [
            d["id"] or "-",
            when(d["started_at"] or d["scheduled"]["at"]),
            {True: "silent", False: "paging", None: "-"}[d["silent"]] + (" (scheduled)" if d.get("scheduled") else ""),
            d["status"],
            d["requested_by"],
        ]
        for d in body["items"]
    ]
    emit(table(["ID", "STARTED", "KIND", "STATUS", "BY"], rows) if rows else "no drills")
    emit_more("drills", body)
    for run in body.get("next_scheduled", []):
        kind = "silent" if run["silent"] else "paging"
        emit(f"next scheduled: {run['schedule']} at {when(run['at'])} ({kind}; {run['rule']})")
