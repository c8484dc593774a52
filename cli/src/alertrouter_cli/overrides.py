"""``alertrouter override add|list|remove``: cover someone's on-call time through the API ("cover me tonight")."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from alertrouter_cli.client import ApiClient, quoted
from alertrouter_cli.online import ForOption, FromOption, JsonFlag, UntilOption, time_span
from alertrouter_cli.output import emit, emit_json, table, when

override_app = typer.Typer(help="Schedule overrides made through the API.", no_args_is_help=True)


@override_app.command("add")
def override_add(
    schedule: str,
    user: Annotated[str, typer.Option("--user", "-u", help="who is on call instead")],
    duration: ForOption = None,
    until: UntilOption = None,
    start: FromOption = None,
    replaces: Annotated[str | None, typer.Option(help="cover only this person's time")] = None,
    reason: Annotated[str, typer.Option(help="why, for the timeline and the audit trail")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Put USER on call in SCHEDULE for a while (checked like configured overrides)."""
    begins, ends = time_span(start, until, duration)
    body: dict[str, Any] = {"user": user, "start": begins.isoformat(), "end": ends.isoformat(), "reason": reason}
    if replaces:
        body["replaces"] = replaces
    with ApiClient() as api:
        made = api.post(f"/v1/schedules/{quoted(schedule)}/overrides", body)
    if as_json:
        emit_json(made)
    else:
        span = f"from {when(made['starts_at'])} to {when(made['ends_at'])}"
        emit(f"override {made['id']}: {user} on call in {schedule} {span}")


@override_app.command("list")
def override_list(schedule: str, as_json: JsonFlag = False) -> None:
    """The overrides of SCHEDULE made through the API."""
    with ApiClient() as api:
        body = api.get(f"/v1/schedules/{quoted(schedule)}/overrides")
    if as_json:
        emit_json(body)
        return
    items = body["items"]
    rows = [[o["id"], o["user_id"], when(o["starts_at"]), when(o["ends_at"]), o.get("reason", "")] for o in items]
    emit(table(["ID", "USER", "FROM", "TO", "REASON"], rows) if rows else "no overrides made through the API")


@override_app.command("remove")
def override_remove(schedule: str, override: str, as_json: JsonFlag = False) -> None:
    """Remove an override made through the API."""
    with ApiClient() as api:
        body = api.delete(f"/v1/schedules/{quoted(schedule)}/overrides/{quoted(override)}")
    emit_json(body) if as_json else emit(f"override {override} of {schedule} removed")
