"""Incidents: list, one with its timeline, and acknowledge / resolve by a person."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field
from sqlalchemy import and_, select

from alertrouter_router import changes, decisions, incidents, lifecycle, timeline
from alertrouter_router.api.deps import READ, WRITE, ReadConn, State
from alertrouter_router.context import EventContext
from alertrouter_router.db.tables import incident as incident_table
from alertrouter_router.db.tables import outbox
from alertrouter_router.decisions import Decision, Outcome

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


@router.get("", dependencies=READ, summary="Incidents, newest first")
async def list_incidents(
    conn: ReadConn,
    service: str | None = None,
    team: str | None = None,
    status: str | None = Query(None, pattern="^(triggered|acknowledged|resolved|open)$"),
    since: datetime | None = None,
    limit: int = Query(50, ge=1, le=500),
    cursor: datetime | None = Query(None, description="opened_at of the last item of the previous page"),
) -> dict[str, Any]:
    conditions = []
    if service:
        conditions.append(incident_table.c.service_id == service)
    if team:
        conditions.append(incident_table.c.team_id == team)
    if status == "open":
        conditions.append(incident_table.c.status != incidents.RESOLVED)
    elif status:
        conditions.append(incident_table.c.status == status)
    if since:
        conditions.append(incident_table.c.opened_at >= since)
    if cursor:
        conditions.append(incident_table.c.opened_at < cursor)
    query = (
        select(incident_table).where(and_(True, *conditions)).order_by(incident_table.c.opened_at.desc()).limit(limit)
    )
    rows = [dict(r._mapping) for r in await conn.execute(query)]
    next_cursor = rows[-1]["opened_at"].isoformat() if len(rows) == limit else None
    return {"items": [_jsonable(r) for r in rows], "next_cursor": next_cursor}


@router.get("/{incident_id}", dependencies=READ, summary="One incident with its timeline")
async def get_incident(incident_id: str, conn: ReadConn) -> dict[str, Any]:
    row = (await conn.execute(select(incident_table).where(incident_table.c.id == incident_id))).first()
    if row is None:
        raise HTTPException(404, f"incident {incident_id!r} not found")
    entries: list[dict[str, Any]] = []
    for d in await decisions.for_incident(conn, incident_id):
        entries.append(
            {
                "at": d["created_at"],
                "kind": "decision",
                "outcome": d["outcome"],
                "decision_id": d["id"],
                "reason": d["reason"],
            }
        )
    pages = await conn.execute(select(outbox).where(outbox.c.incident_id == incident_id))
    for p in pages:
        entries.append(
            {
                "at": p.created_at,
                "kind": "page",
                "page_id": p.page_id,
                "send_at": p.send_at,
                "published_at": p.published_at,
            }
        )
    for t in await timeline.for_incident(conn, incident_id):
        entries.append({**t["data"], "at": t["at"], "kind": t["kind"]})
    entries.extend(await changes.around(conn, row.service_id, row.opened_at))
    entries.sort(key=lambda e: e["at"])
    return {"incident": _jsonable(dict(row._mapping)), "timeline": [_jsonable(e) for e in entries]}


class ActionBody(BaseModel):
    by: str = Field(..., min_length=1, max_length=128, description="who acts (user id or name)")
    note: str = Field("", max_length=2000)


async def _act(state: State, incident_id: str, body: ActionBody, action: str) -> dict[str, Any]:
    async with state.engine.begin() as conn:
        ctx = EventContext(conn=conn, config=state.configs.current, now=state.clock.now())
        target = await incidents.get(conn, incident_id, lock=True)
        if target is None:
            raise HTTPException(404, f"incident {incident_id!r} not found")
        if target.status == incidents.RESOLVED or (action == "acknowledge" and target.status == incidents.ACKNOWLEDGED):
            return {"incident": incident_id, "status": target.status, "changed": False}
        if action == "acknowledge":
            await lifecycle.acknowledge(ctx, target, body.by)
            outcome, status = Outcome.ACKNOWLEDGED, incidents.ACKNOWLEDGED
        else:
            await lifecycle.resolve(ctx, target, body.by)
            outcome, status = Outcome.RESOLVED, incidents.RESOLVED
        record = Decision(
            outcome=outcome,
            reason=f"{action}d by {body.by}" + (f": {body.note}" if body.note else ""),
            kind="manual",
            incident_id=target.id,
            dedup_key=target.dedup_key,
            service_id=target.service_id,
            team_id=target.team_id,
            policy_id=target.policy_id,
            config_version=ctx.config.version,
            explanation={"by": body.by, "note": body.note, "action": action},
        )
        ctx.writes.decide(record, ctx.now)
        await ctx.writes.flush_and_log(conn)
    return {"incident": incident_id, "status": status, "changed": True, "decision_id": record.id}


@router.post("/{incident_id}/acknowledge", dependencies=WRITE, summary="Acknowledge: stops escalation")
async def acknowledge(incident_id: str, body: ActionBody, state: State) -> dict[str, Any]:
    return await _act(state, incident_id, body, "acknowledge")


@router.post("/{incident_id}/resolve", dependencies=WRITE, summary="Resolve: stops escalation")
async def resolve(incident_id: str, body: ActionBody, state: State) -> dict[str, Any]:
    return await _act(state, incident_id, body, "resolve")
