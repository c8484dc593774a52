"""Incidents: list, one with its alerts and timeline, and acknowledge / resolve by a person (through ``decide``)."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, and_, or_, select

from alertrouter_router import changes, timeline, work
from alertrouter_router.api.deps import READ, WRITE, ReadConn, State
from alertrouter_router.db import decision_reads, snapshot_reads
from alertrouter_router.db.tables import alert as alert_table
from alertrouter_router.db.tables import incident as incident_table
from alertrouter_router.db.tables import outbox
from alertrouter_router.decide import ManualAction
from alertrouter_router.incidents import IncidentStatus
from alertrouter_router.maintenance import Maintenance

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


def _cursor(opened_at: datetime, incident_id: str) -> str:
    return base64.urlsafe_b64encode(f"{opened_at.isoformat()}|{incident_id}".encode()).decode()


def _parse_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        opened_at, incident_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return datetime.fromisoformat(opened_at), incident_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise HTTPException(422, "cursor: not a cursor this API returned") from exc


@router.get("", dependencies=READ, summary="Incidents, newest first")
async def list_incidents(
    conn: ReadConn,
    service: str | None = None,
    team: str | None = None,
    status: str | None = Query(None, pattern="^(triggered|acknowledged|resolved|open)$"),
    since: datetime | None = None,
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = Query(None, description="the next_cursor of the previous page"),
    drill: bool = Query(False, description="list drills' incidents instead of real ones"),
) -> dict[str, Any]:
    conditions: list[ColumnElement[bool]] = [incident_table.c.drill.is_(drill)]
    if service:
        conditions.append(incident_table.c.service_id == service)
    if team:
        conditions.append(incident_table.c.team_id == team)
    if status == "open":
        conditions.append(incident_table.c.status != IncidentStatus.RESOLVED.value)
    elif status:
        conditions.append(incident_table.c.status == status)
    if since:
        conditions.append(incident_table.c.opened_at >= since)
    if cursor:
        opened_at, incident_id = _parse_cursor(cursor)
        conditions.append(
            or_(
                incident_table.c.opened_at < opened_at,
                and_(incident_table.c.opened_at == opened_at, incident_table.c.id < incident_id),
            )
        )
    query = (
        select(incident_table)
        .where(and_(True, *conditions))
        .order_by(incident_table.c.opened_at.desc(), incident_table.c.id.desc())
        .limit(limit)
    )
    rows = [dict(r._mapping) for r in await conn.execute(query)]
    next_cursor = _cursor(rows[-1]["opened_at"], rows[-1]["id"]) if len(rows) == limit else None
    return {"items": [_jsonable(r) for r in rows], "next_cursor": next_cursor}


@router.get("/{incident_id}", dependencies=READ, summary="One incident with its alerts and timeline")
async def get_incident(incident_id: str, conn: ReadConn) -> dict[str, Any]:
    row = (await conn.execute(select(incident_table).where(incident_table.c.id == incident_id))).first()
    if row is None:
        raise HTTPException(404, f"incident {incident_id!r} not found")
    alerts = await conn.execute(
        select(alert_table).where(alert_table.c.incident_id == incident_id).order_by(alert_table.c.episode_opened_at)
    )
    entries: list[dict[str, Any]] = []
    for d in await decision_reads.for_incident(conn, incident_id):
        entries.append(
            {
                "at": d["created_at"],
                "kind": "decision",
                "outcome": d["outcome"],
                "decision_id": d["id"],
                "reason": d["reason"],
            }
        )
    for p in await conn.execute(select(outbox).where(outbox.c.incident_id == incident_id)):
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
    return {
        "incident": _jsonable(dict(row._mapping)),
        "alerts": [_jsonable(dict(a._mapping)) for a in alerts],
        "timeline": [_jsonable(e) for e in entries],
    }


class ActionBody(BaseModel):
    by: str = Field(..., min_length=1, max_length=128, description="who acts (user id or name)")
    note: str = Field("", max_length=2000)


class EscalateBody(ActionBody):
    level: int | None = Field(None, ge=1, le=50, description="the 1-based level to page; default: the next one")


class SnoozeBody(ActionBody):
    minutes: int = Field(..., ge=1, le=1440, description="page again after this long unless resolved")


async def _act(
    state: State,
    incident_id: str,
    body: ActionBody,
    action: Literal["acknowledge", "resolve", "escalate", "snooze"],
) -> dict[str, Any]:
    config = state.configs.current
    now = state.clock.now()
    async with state.pool.acquire() as conn, conn.transaction():
        snapshot = await snapshot_reads.for_incident(conn, incident_id)
        target = snapshot.incidents.get(incident_id)
        if target is None:
            raise HTTPException(404, f"incident {incident_id!r} not found")
        level = body.level if isinstance(body, EscalateBody) else None
        minutes = body.minutes if isinstance(body, SnoozeBody) else None
        inputs = [ManualAction(incident_id, action, body.by, body.note, level=level, minutes=minutes)]
        effects, recorded = await work.run_unit(conn, inputs, snapshot, Maintenance(), config, now, state.rules)
    work.after_commit(effects, recorded, now, state.publisher)
    changed = effects.incidents.get(incident_id)
    if not effects.decisions:
        return {"incident": incident_id, "status": target.status.value, "changed": False}
    decision = effects.decisions[-1]
    return {
        "incident": incident_id,
        "status": (changed or target).status.value,
        "changed": changed is not None,
        "decision_id": decision.id,
        "reason": decision.reason,
    }


@router.post("/{incident_id}/acknowledge", dependencies=WRITE, summary="Acknowledge: stops escalation")
async def acknowledge(incident_id: str, body: ActionBody, state: State) -> dict[str, Any]:
    return await _act(state, incident_id, body, "acknowledge")


@router.post("/{incident_id}/resolve", dependencies=WRITE, summary="Resolve the incident and its alerts")
async def resolve(incident_id: str, body: ActionBody, state: State) -> dict[str, Any]:
    return await _act(state, incident_id, body, "resolve")


@router.post("/{incident_id}/escalate", dependencies=WRITE, summary="Escalate now: the next level, or a chosen one")
async def escalate(incident_id: str, body: EscalateBody, state: State) -> dict[str, Any]:
    return await _act(state, incident_id, body, "escalate")


@router.post("/{incident_id}/snooze", dependencies=WRITE, summary="Acknowledge now, page again after some minutes")
async def snooze(incident_id: str, body: SnoozeBody, state: State) -> dict[str, Any]:
    return await _act(state, incident_id, body, "snooze")
