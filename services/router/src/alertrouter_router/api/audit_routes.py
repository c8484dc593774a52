"""The audit trail: who changed what, when, and the state before and after; newest first, one opaque cursor."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from sqlalchemy import and_, select

from alertrouter_router.api.deps import ReadConn
from alertrouter_router.api.schemas.admin import AuditPage
from alertrouter_router.db.tables import audit
from alertrouter_shared.cursors import encode_cursor, seq_after

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("", response_model=AuditPage, summary="Audit entries, newest first")
async def list_audit(
    conn: ReadConn,
    actor: str | None = None,
    action: str | None = Query(None, description="e.g. incident.acknowledge, maintenance.create, token.revoke"),
    target_type: str | None = Query(None, description="incident, maintenance, token or config"),
    target_id: str | None = None,
    team: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = Query(None, description="the next_cursor of the previous page"),
) -> dict[str, Any]:
    conditions = []
    for column, value in (
        (audit.c.actor, actor),
        (audit.c.action, action),
        (audit.c.target_type, target_type),
        (audit.c.target_id, target_id),
        (audit.c.team_id, team),
    ):
        if value is not None:
            conditions.append(column == value)
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
