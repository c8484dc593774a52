"""``alertrouter maintenance add|end|list``: maintenance windows created through the API."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from alertrouter_cli.client import ApiClient, acting_user, load_settings, quoted
from alertrouter_cli.online import ByOption, CursorOption, ForOption, FromOption, JsonFlag, UntilOption, time_span
from alertrouter_cli.output import emit, emit_json, emit_more, table, when

maintenance_app = typer.Typer(help="Maintenance windows created through the API.", no_args_is_help=True)


@maintenance_app.command("add")
def maintenance_add(
    service: str,
    duration: ForOption = None,
    until: UntilOption = None,
    start: FromOption = None,
    reason: Annotated[str, typer.Option(help="why, for the people who get no page")] = "",
    by: ByOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Start a maintenance window for a service: alerts open no pages until it ends."""
    begins, ends = time_span(start, until, duration)
    body: dict[str, Any] = {"ends_at": ends.isoformat(), "reason": reason}
    if start:
        body["starts_at"] = begins.isoformat()
    settings = load_settings()
    body |= {"created_by": who} if (who := acting_user(settings, by)) else {}
    with ApiClient(settings) as api:
        window = api.post(f"/v1/services/{quoted(service)}/maintenance", body)
    if as_json:
        emit_json(window)
    else:
        emit(
            f"maintenance window {window['id']} for {service}: {when(window['starts_at'])} to {when(window['ends_at'])}"
        )


@maintenance_app.command("end")
def maintenance_end(service: str, window: str, as_json: JsonFlag = False) -> None:
    """End a maintenance window now."""
    with ApiClient() as api:
        body = api.delete(f"/v1/services/{quoted(service)}/maintenance/{quoted(window)}")
    emit_json(body) if as_json else emit(f"maintenance window {window} for {service} ended")


@maintenance_app.command("list")
def maintenance_list(
    service: str,
    include_ended: Annotated[bool, typer.Option("--include-ended", help="also windows that are over")] = False,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 100,
    cursor: CursorOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Maintenance windows of a service: configured ones and those created through the API, by start."""
    with ApiClient() as api:
        body = api.get(
            f"/v1/services/{quoted(service)}/maintenance",
            include_ended=str(include_ended).lower(),
            limit=limit,
            cursor=cursor,
        )
    if as_json:
        emit_json(body)
        return
    rows = [
        [w["id"], when(w["starts_at"]), when(w["ends_at"]), w.get("created_by", ""), w["reason"]]
        + (["yes" if w["active"] else "ended early"] if include_ended else [])
        for w in body["created"]
    ]
    headers = ["ID", "FROM", "TO", "BY", "REASON"] + (["ACTIVE"] if include_ended else [])
    emit(table(headers, rows) if rows else "no maintenance window created through the API")
    emit_more("windows", body)
    if body["configured"]:
        emit(f"and {len(body['configured'])} configured window(s) (see the service's maintenance_windows)")
