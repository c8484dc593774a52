"""Incidents: the list and one incident with its alerts and timeline (people's actions: ``incident_actions``)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import ColumnElement, and_, select

from alertrouter_router import changes, timeline
from alertrouter_router.api.bodies import BoundedBodyRoute
from alertrouter_router.api.deps import ReadConn
from alertrouter_router.api.schemas.incidents import AlertView, IncidentDetail, IncidentPage
from alertrouter_router.db import decision_reads
from alertrouter_router.db.keyset import older_than
from alertrouter_router.db.tables import alert as alert_table
from alertrouter_router.db.tables import incident as incident_table
from alertrouter_router.db.tables import outbox
from alertrouter_router.decisions.incidents import IncidentStatus
from alertrouter_router.ownership.timespec import Instant
from alertrouter_shared.cursors import encode_cursor, instant_id_after

router = APIRouter(prefix="/v1/incidents", tags=["incidents"], route_class=BoundedBodyRoute)


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


@router.get("", response_model=IncidentPage, summary="Incidents, newest first")
async def list_incidents(
    conn: ReadConn,
    service: str | None = None,
    team: str | None = None,
    status: str | None = Query(None, pattern="^(triggered|acknowledged|resolved|open)$"),
    since: Instant | None = Query(None, description="ISO 8601 instant with offset"),
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
        key = instant_id_after("incidents", cursor)
        conditions.append(older_than(incident_table.c.opened_at, incident_table.c.id, key))
    query = (
        select(incident_table)
        .where(and_(True, *conditions))
        .order_by(incident_table.c.opened_at.desc(), incident_table.c.id.desc())
        .limit(limit)
    )
    rows = [dict(r._mapping) for r in await conn.execute(query)]
    next_cursor = encode_cursor("incidents", rows[-1]["opened_at"], rows[-1]["id"]) if len(rows) == limit else None
    return {"items": [_jsonable(r) for r in rows], "next_cursor": next_cursor}


# What an alert's view shows: the table's other columns are the router's bookkeeping (``no_route_version``).
_ALERT_SHOWN = [column for column in alert_table.c if column.name in AlertView.model_fields]


@router.get("/{incident_id}", response_model=IncidentDetail, summary="One incident with its alerts and timeline")
async def get_incident(incident_id: str, conn: ReadConn) -> dict[str, Any]:
    row = (await conn.execute(select(incident_table).where(incident_table.c.id == incident_id))).first()
    if row is None:
        raise HTTPException(404, f"incident {incident_id!r} not found")
    alerts = await conn.execute(
        select(*_ALERT_SHOWN).where(alert_table.c.incident_id == incident_id).order_by(alert_table.c.episode_opened_at)
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
                # the round of the incident's escalation cycle, as the reason says it (page ids number rounds on
                # across cycles): the console's words for the decision's pages use it
                "round": d["explanation"].get("round"),
            }
        )
    for p in await conn.execute(select(outbox).where(outbox.c.incident_id == incident_id)):
        entries.append(
            {
                "at": p.created_at,
                "kind": "page",
                "page_id": p.page_id,
                "decision_id": json.loads(p.payload).get("decision_id"),
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
