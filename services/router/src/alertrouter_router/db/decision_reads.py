"""Reading routing decisions for the API: filters with a cursor, one by id, an incident's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from alertrouter_router.db.tables import decision


@dataclass
class DecisionFilter:
    service: str | None = None
    team: str | None = None
    incident: str | None = None
    dedup_key: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def list_page(
    conn: AsyncConnection, filters: DecisionFilter, limit: int, before_seq: int | None
) -> list[dict[str, Any]]:
    """Newest first; ``before_seq`` is the cursor (the ``seq`` of the last row of the previous page)."""
    conditions = []
    column_filters = {
        "service_id": filters.service,
        "team_id": filters.team,
        "incident_id": filters.incident,
        "dedup_key": filters.dedup_key,
        "outcome": filters.outcome,
    }
    for name, value in column_filters.items():
        if value is not None:
            conditions.append(decision.c[name] == value)
    if filters.since is not None:
        conditions.append(decision.c.created_at >= filters.since)
    if filters.until is not None:
        conditions.append(decision.c.created_at < filters.until)
    if before_seq is not None:
        conditions.append(decision.c.seq < before_seq)
    query = select(decision).where(and_(True, *conditions)).order_by(decision.c.seq.desc()).limit(limit)
    return [dict(r._mapping) for r in await conn.execute(query)]


async def get_one(conn: AsyncConnection, decision_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(decision).where(decision.c.id == decision_id))).first()
    return dict(row._mapping) if row else None


async def for_incident(conn: AsyncConnection, incident_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(select(decision).where(decision.c.incident_id == incident_id).order_by(decision.c.seq))
    return [dict(r._mapping) for r in rows]
