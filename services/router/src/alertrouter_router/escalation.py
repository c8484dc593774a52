"""Escalation timers in the database: one row per pending step, claimed with SKIP LOCKED when due.

A step is (incident, round, level). Paging level L schedules level L+1 after level L's delay; past the last
level the policy starts again at level 0 for its configured number of repeats. Acknowledge or resolve cancels
every pending step. Several router replicas may run the timer loop: a due row is claimed by exactly one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from prometheus_client import Histogram
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from alertrouter_router.db.tables import escalation_step

PENDING = "pending"
DONE = "done"
CANCELLED = "cancelled"

TIMER_LAG = Histogram(
    "alertrouter_router_escalation_timer_lag_seconds",
    "How late an escalation step fired after its due time",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)


@dataclass(frozen=True)
class Step:
    incident_id: str
    round: int
    level: int
    due_at: datetime


def next_position(round_: int, level: int, level_count: int, repeat: int) -> tuple[int, int] | None:
    """The step after (round, level), or None when the policy is exhausted."""
    if level + 1 < level_count:
        return round_, level + 1
    if round_ < repeat:
        return round_ + 1, 0
    return None


async def schedule_many(conn: AsyncConnection, steps: list[Step]) -> None:
    if not steps:
        return
    rows = [
        {"incident_id": s.incident_id, "round": s.round, "level": s.level, "due_at": s.due_at, "status": PENDING}
        for s in steps
    ]
    await conn.execute(
        insert(escalation_step).values(rows).on_conflict_do_nothing(constraint="uq_router_escalation_step_position")
    )


async def cancel_all(conn: AsyncConnection, incident_id: str) -> None:
    await conn.execute(
        update(escalation_step)
        .where(escalation_step.c.incident_id == incident_id, escalation_step.c.status == PENDING)
        .values(status=CANCELLED)
    )


async def claim_due(conn: AsyncConnection, now: datetime, limit: int) -> list[Step]:
    """Lock due steps for this transaction; other replicas skip them."""
    rows = (
        await conn.execute(
            select(escalation_step)
            .where(escalation_step.c.status == PENDING, escalation_step.c.due_at <= now)
            .order_by(escalation_step.c.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    return [Step(r.incident_id, r.round, r.level, r.due_at) for r in rows]


async def mark_done(conn: AsyncConnection, step: Step, fired_at: datetime) -> None:
    await conn.execute(
        update(escalation_step)
        .where(
            escalation_step.c.incident_id == step.incident_id,
            escalation_step.c.round == step.round,
            escalation_step.c.level == step.level,
        )
        .values(status=DONE, fired_at=fired_at)
    )
    TIMER_LAG.observe(max(0.0, (fired_at - step.due_at).total_seconds()))
