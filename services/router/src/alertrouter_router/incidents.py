"""Incident state in the database: one open incident per dedup key, settled by a partial unique index.

Lifecycle: triggered → acknowledged → resolved. A resolve for a key with no open incident is kept as an
already-resolved incident (a tombstone), so a trigger that arrives later but happened earlier is recognised
as out of order instead of opening a new incident.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from alertrouter_router.db.tables import incident

TRIGGERED = "triggered"
ACKNOWLEDGED = "acknowledged"
RESOLVED = "resolved"


@dataclass(frozen=True)
class Incident:
    id: str
    dedup_key: str
    status: str
    service_id: str | None
    team_id: str | None
    policy_id: str | None
    summary: str
    severity: str
    labels: dict[str, str]
    alert_count: int
    opened_at: datetime
    last_event_at: datetime
    episode_started_at: datetime | None
    resolved_at: datetime | None
    acknowledged_at: datetime | None

    @staticmethod
    def from_row(row: Any) -> Incident:
        return Incident(**{f: getattr(row, f) for f in Incident.__dataclass_fields__})


async def find_open(conn: AsyncConnection, dedup_key: str) -> Incident | None:
    row = (
        await conn.execute(
            select(incident).where(incident.c.dedup_key == dedup_key, incident.c.status != RESOLVED).with_for_update()
        )
    ).first()
    return Incident.from_row(row) if row else None


async def find_current(conn: AsyncConnection, dedup_key: str) -> Incident | None:
    """The open incident of the key (locked), else its most recently resolved one: one round trip for both."""
    row = (
        await conn.execute(
            select(incident)
            .where(incident.c.dedup_key == dedup_key)
            .order_by((incident.c.status == RESOLVED).asc(), incident.c.resolved_at.desc().nulls_first())
            .limit(1)
            .with_for_update()
        )
    ).first()
    return Incident.from_row(row) if row else None


@dataclass
class CurrentIncidents:
    """``find_current`` for every key of a consumer batch in one locked read, each answer used once.

    The first event of a key takes the prefetched answer; later events of the same key in the batch (after the
    first may have opened or resolved an incident) read again. Rows are locked in id order like find_current locks
    them one by one, so the state read cannot change under the transaction.
    """

    found: dict[str, Incident] = field(default_factory=dict)
    unused: set[str] = field(default_factory=set)

    async def prefetch(self, conn: AsyncConnection, keys: set[str]) -> None:
        if not keys:
            return
        newest = (
            select(incident.c.id)
            .where(incident.c.dedup_key.in_(sorted(keys)))
            .ext(distinct_on(incident.c.dedup_key))
            .order_by(
                incident.c.dedup_key, (incident.c.status == RESOLVED).asc(), incident.c.resolved_at.desc().nulls_first()
            )
        )
        query = select(incident).where(incident.c.id.in_(newest)).order_by(incident.c.id).with_for_update()
        self.found = {row.dedup_key: Incident.from_row(row) for row in await conn.execute(query)}
        self.unused = set(keys)

    async def current(self, conn: AsyncConnection, dedup_key: str) -> Incident | None:
        if dedup_key not in self.unused:
            return await find_current(conn, dedup_key)
        self.unused.discard(dedup_key)
        return self.found.get(dedup_key)

    async def open(self, conn: AsyncConnection, dedup_key: str) -> Incident | None:
        """The open incident of the key: the current one unless it is resolved."""
        if dedup_key not in self.unused:
            return await find_open(conn, dedup_key)
        found = await self.current(conn, dedup_key)
        return found if found is not None and found.status != RESOLVED else None


async def find_recent_group(conn: AsyncConnection, group_key: str, since: datetime) -> Incident | None:
    """The newest open incident of a grouping key opened at or after ``since`` (the grouping window)."""
    row = (
        await conn.execute(
            select(incident)
            .where(incident.c.group_key == group_key, incident.c.status != RESOLVED, incident.c.opened_at >= since)
            .order_by(incident.c.opened_at.desc())
            .limit(1)
            .with_for_update()
        )
    ).first()
    return Incident.from_row(row) if row else None


async def get(conn: AsyncConnection, incident_id: str, lock: bool = False) -> Incident | None:
    query = select(incident).where(incident.c.id == incident_id)
    if lock:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    return Incident.from_row(row) if row else None


async def open_new(conn: AsyncConnection, values: dict[str, Any]) -> Incident | None:
    """Insert an open incident; None when another writer opened one for the same key first."""
    values = {"id": str(uuid.uuid4()), "status": TRIGGERED, **values}
    stmt = (
        insert(incident)
        .values(values)
        .on_conflict_do_nothing(index_elements=["dedup_key"], index_where=text("status <> 'resolved'"))
        .returning(*incident.c)
    )
    row = (await conn.execute(stmt)).first()
    return Incident.from_row(row) if row else None


async def insert_tombstone(conn: AsyncConnection, values: dict[str, Any]) -> str:
    incident_id = str(uuid.uuid4())
    await conn.execute(incident.insert().values({"id": incident_id, "status": RESOLVED, **values}))
    return incident_id


async def record_repeat(conn: AsyncConnection, incident_id: str, at: datetime, summary: str) -> None:
    await conn.execute(
        update(incident)
        .where(incident.c.id == incident_id)
        .values(
            alert_count=incident.c.alert_count + 1,
            last_event_at=func.greatest(incident.c.last_event_at, at),
            summary=summary or incident.c.summary,
        )
    )


async def set_status(conn: AsyncConnection, incident_id: str, status: str, at: datetime, by: str | None) -> None:
    values: dict[str, Any] = {"status": status}
    if status == ACKNOWLEDGED:
        values |= {"acknowledged_at": at, "acknowledged_by": by}
    elif status == RESOLVED:
        values |= {"resolved_at": at, "resolved_by": by}
    await conn.execute(update(incident).where(incident.c.id == incident_id).values(values))
