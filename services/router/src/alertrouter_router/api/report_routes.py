"""Reports over what the router stored: the on-call health of a team (or of every team) over a window.

Computed from the database at every request, never from process memory, so it survives restarts and is the same
on every replica. The window defaults to the 28 days before now; it is at most 366 days long.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, HTTPException, Query

from alertrouter_router.api.bodies import BoundedBodyRoute
from alertrouter_router.api.deps import State
from alertrouter_router.db import report_reads
from alertrouter_router.ownership.timespec import Instant
from alertrouter_router.reports import Directory, OncallReport, Window, oncall_report

router = APIRouter(prefix="/v1/reports", tags=["reports"], route_class=BoundedBodyRoute)

DEFAULT_WINDOW = timedelta(days=28)
MAX_WINDOW = timedelta(days=366)


def _window(state: State, now: datetime, team: str | None, since: datetime | None, until: datetime | None) -> Window:
    end = (until or now).astimezone(UTC)
    start = (since or end - DEFAULT_WINDOW).astimezone(UTC)
    if start >= end:
        raise HTTPException(422, f"since ({start.isoformat()}) must be before until ({end.isoformat()})")
    if end - start > MAX_WINDOW:
        raise HTTPException(422, f"the window is {(end - start).days} days long: at most {MAX_WINDOW.days} are allowed")
    config = state.configs.current
    if team is not None and team not in config.teams_by_id:
        raise HTTPException(404, f"team {team!r} is not in configuration {config.short_version}")
    return Window(start, end, team)


@router.get("/oncall", summary="On-call health: incidents, MTTA/MTTR, escalations per service; pages per person")
async def oncall_health(
    state: State,
    team: str | None = Query(None, description="a team of the configuration: its services and who was paged for them"),
    since: Instant | None = Query(None, description="ISO-8601 instant with offset; default until - 28 days"),
    until: Instant | None = Query(None, description="ISO-8601 instant with offset (exclusive); default now"),
) -> OncallReport:
    now = state.clock.now()
    window = _window(state, now, team, since, until)
    directory = Directory.of(state.configs.current.config)
    services = directory.services_of(team)
    async with state.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        incidents = await report_reads.incidents(conn, window.since, window.until, team, services)
        pages = await report_reads.notifications(conn, window.since, window.until, team, services)
    return oncall_report(incidents, pages, directory, window, now)
