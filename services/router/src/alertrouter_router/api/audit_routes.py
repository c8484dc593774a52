"""The audit trail: who changed what, when, and the state before and after; newest first, one opaque cursor.

Overrides and calendar feeds are not owned by one team (a schedule is paged by every team whose services' policies
name it), so their entries carry no ``team_id``; ``?team=`` finds them through the current configuration: the
overrides and feeds of that team's schedules, and the feeds of its members' shifts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from sqlalchemy import ColumnElement, and_, func, or_, select

from alertrouter_router.api.bodies import BoundedBodyRoute
from alertrouter_router.api.deps import ReadConn, State
from alertrouter_router.api.schemas.admin import AuditPage
from alertrouter_router.db.tables import audit
from alertrouter_router.ownership.model import OwnershipConfig
from alertrouter_router.ownership.timespec import Instant
from alertrouter_shared.cursors import encode_cursor, seq_after

router = APIRouter(prefix="/v1/audit", tags=["audit"], route_class=BoundedBodyRoute)


@router.get("", response_model=AuditPage, summary="Audit entries, newest first")
async def list_audit(
    conn: ReadConn,
    state: State,
    actor: str | None = None,
    action: str | None = Query(None, description="e.g. incident.acknowledge, maintenance.create, token.revoke"),
    target_type: str | None = Query(None, description="incident, maintenance, token or config"),
    target_id: str | None = None,
    team: str | None = None,
    since: Instant | None = Query(None, description="ISO 8601 instant with offset"),
    until: Instant | None = Query(None, description="ISO 8601 instant with offset (exclusive)"),
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = Query(None, description="the next_cursor of the previous page"),
) -> dict[str, Any]:
    conditions = []
    for column, value in (
        (audit.c.actor, actor),
        (audit.c.action, action),
        (audit.c.target_type, target_type),
        (audit.c.target_id, target_id),
    ):
        if value is not None:
            conditions.append(column == value)
    if team is not None:
        conditions.append(_of_team(state.configs.current.config, team))
    if since is not None:
        conditions.append(audit.c.at >= since)
    if until is not None:
        conditions.append(audit.c.at < until)
    if cursor is not None:
        conditions.append(audit.c.seq < seq_after("audit", cursor))
    query = select(audit).where(and_(True, *conditions)).order_by(audit.c.seq.desc()).limit(limit)
    rows = [dict(r._mapping) for r in await conn.execute(query)]
    items = [
        {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items() if k != "seq"} for row in rows
    ]
    return {"items": items, "next_cursor": encode_cursor("audit", rows[-1]["seq"]) if len(rows) == limit else None}


def _of_team(config: OwnershipConfig, team: str) -> ColumnElement[bool]:
    schedules = sorted(schedule for schedule, teams in config.schedule_teams.items() if team in teams)
    members = sorted(found.members) if (found := config.teams_by_id.get(team)) is not None else []
    state = func.coalesce(audit.c.after, audit.c.before)
    target = state["target_id"].as_string()
    return or_(
        audit.c.team_id == team,
        and_(audit.c.target_type == "override", state["schedule_id"].as_string().in_(schedules)),
        and_(
            audit.c.target_type == "calendar_feed",
            or_(
                and_(state["kind"].as_string() == "schedule", target.in_(schedules)),
                and_(state["kind"].as_string() == "user", target.in_(members)),
            ),
        ),
    )
