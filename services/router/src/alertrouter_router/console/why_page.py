"""Why: find a routing decision by dedup key, service, person or time, and read it as a paragraph with the rule
that matched and, for each person, the schedule layer or override that selected them and each contact method.
"Why was nobody paged?" is the same page with the outcomes that page nobody.

The list is ``decision_reads.list_page`` (the ``/v1/decisions`` query), the paragraph ``explain_text`` (the
``/v1/decisions/{id}/explain`` text). A person is not a column of decisions: their filter keeps the decisions
whose explanation paged them, among the newest ``SCAN`` that match the other filters.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from alertrouter_router.console.errors import ConsoleError
from alertrouter_router.console.forms import local_instant
from alertrouter_router.console.rendering import render
from alertrouter_router.console.session import Session, console_session
from alertrouter_router.db import decision_reads
from alertrouter_router.decisions.explain import Show, chosen_by, explain_text, how_selected, next_step
from alertrouter_router.timefmt import local_time

router = APIRouter(prefix="/ui/why")
Signed = Annotated[Session, Depends(console_session)]
NOBODY = ("no_route", "nobody_on_call", "suppressed", "escalation_ended", "not_stored")
SHOWN = 50
SCAN = 500


def _paged(row: dict[str, Any], user: str) -> bool:
    """The decision paged ``user``: a target with a notification (one without any was not paged)."""
    return any(t.get("user") == user and t.get("notifications") for t in row["explanation"].get("targets", []))


@router.get("")
async def find(request: Request, session: Signed) -> Response:
    q = request.query_params
    form = {k: q.get(k, "") for k in ("dedup_key", "service", "person", "since", "until", "nobody")}
    filters = decision_reads.DecisionFilter(
        service=form["service"] or None,
        dedup_key=form["dedup_key"].strip() or None,
        # the form's datetime-local fields are wall times of the person's zone, as the page says
        since=local_instant(form["since"], session.time_zone, "since"),
        until=local_instant(form["until"], session.time_zone, "until"),
    )
    scan = SCAN if form["person"] or form["nobody"] else SHOWN + 1
    async with session.state.engine.connect() as conn:
        rows = await decision_reads.list_page(conn, filters, scan, None)
    cut = len(rows) == scan  # older decisions were not looked at: some of them may match too
    if form["person"]:
        rows = [r for r in rows if _paged(r, form["person"])]
    if form["nobody"]:
        rows = [r for r in rows if r["outcome"] in NOBODY]
    config = session.state.configs.current.config
    more = cut or len(rows) > SHOWN  # said on the page: a decision left out must not look like none
    return render(
        request,
        "why.html",
        session,
        form=form,
        rows=rows[:SHOWN],
        more=more,
        shown=SHOWN,
        services=config.services,
        users=config.users,
    )


def in_zone(zone: str) -> Show:
    """The paragraph's instants as the lines under it write them, in the person's zone (it was in UTC above lines
    in theirs); like ``utc_time``, anything that is not an instant as it is."""

    def show(value: object) -> str:
        if not isinstance(value, datetime | str):
            return str(value)
        try:
            return local_time(value, zone) or str(value)
        except ValueError:
            return str(value)

    return show


@router.get("/{decision_id}")
async def decision(request: Request, decision_id: str, session: Signed) -> Response:
    async with session.state.engine.connect() as conn:
        row = await decision_reads.get_one(conn, decision_id)
    if row is None:
        raise ConsoleError(404, f"decision {decision_id!r} not found")
    x = row["explanation"]
    chosen = chosen_by(x)
    targets = [{**t, "how": how_selected(t["selected_by"], chosen)} for t in x.get("targets", [])]
    return render(
        request,
        "decision.html",
        session,
        row=row,
        paragraph=explain_text(row, in_zone(session.time_zone)),
        route=x.get("route", {}),
        targets=targets,
        skipped=x.get("skipped_levels", []),
        next_escalation=x.get("next_escalation"),
        next_step=next_step(str(row["outcome"])),
    )
