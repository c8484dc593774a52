"""Routing decisions: one row per alert event (and per escalation step), whatever the outcome.

The explanation is data, not a log line: it holds everything needed to answer "why was this person paged, or
why was nobody?" after the fact, including the configuration version that was in force.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from prometheus_client import Counter
from sqlalchemy import and_, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from alertrouter_router.db.tables import decision

DECISIONS = Counter("alertrouter_router_decisions_total", "Routing decisions by outcome", ["outcome"])


class Outcome(StrEnum):
    PAGED = "paged"
    DUPLICATE = "duplicate"
    RESOLVED = "resolved"
    ACKNOWLEDGED = "acknowledged"
    SUPPRESSED = "suppressed"
    NO_ROUTE = "no_route"
    NOBODY_ON_CALL = "nobody_on_call"
    ESCALATION_ENDED = "escalation_ended"


@dataclass
class Decision:
    outcome: Outcome
    reason: str
    kind: str = "event"
    event_id: str | None = None
    step_key: str | None = None
    incident_id: str | None = None
    dedup_key: str | None = None
    service_id: str | None = None
    team_id: str | None = None
    policy_id: str | None = None
    level: int | None = None
    config_version: str | None = None
    explanation: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


def _row(item: Decision, at: datetime) -> dict[str, Any]:
    return {
        "id": item.id,
        "event_id": item.event_id,
        "step_key": item.step_key,
        "incident_id": item.incident_id,
        "dedup_key": item.dedup_key,
        "kind": item.kind,
        "outcome": item.outcome.value,
        "reason": item.reason,
        "service_id": item.service_id,
        "team_id": item.team_id,
        "policy_id": item.policy_id,
        "level": item.level,
        "config_version": item.config_version,
        "created_at": at,
        "explanation": {**item.explanation, "outcome": item.outcome.value, "reason": item.reason},
    }


async def record_many(conn: AsyncConnection, items: list[tuple[Decision, datetime, bool]]) -> set[str]:
    """Insert decisions in one statement; returns the ids inserted (an event or step already decided is skipped)."""
    if not items:
        return set()
    rows = [_row(item, at) for item, at, _ in items]
    result = await conn.execute(insert(decision).values(rows).on_conflict_do_nothing().returning(decision.c.id))
    inserted = {str(r.id) for r in result}
    for item, _, count in items:
        if count and item.id in inserted:
            DECISIONS.labels(item.outcome.value).inc()
    return inserted


async def already_decided(conn: AsyncConnection, event_ids: list[str]) -> set[str]:
    if not event_ids:
        return set()
    rows = await conn.execute(select(decision.c.event_id).where(decision.c.event_id.in_(event_ids)))
    return {r.event_id for r in rows}


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
    rows = await conn.execute(
        select(decision).where(or_(decision.c.incident_id == incident_id)).order_by(decision.c.seq)
    )
    return [dict(r._mapping) for r in rows]
