"""The audit trail: every write through the API (incident actions, maintenance windows, tokens, reloads) with its
actor, time, target and the state before and after, written in the same transaction as the write itself.

The hot path (person actions, tokens) writes through asyncpg, the maintenance routes through SQLAlchemy; both
insert the same row.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from alertrouter_router.db.pool import Conn
from alertrouter_router.db.tables import audit
from alertrouter_router.identity import Principal


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str
    token_id: str | None
    action: str  # <target type>.<verb>: incident.acknowledge, maintenance.create, token.revoke, config.reload
    target_type: str
    target_id: str
    team_id: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


def entry(
    who: Principal, at: datetime, action: str, target_id: str, *, team_id: str | None = None, **states: Any
) -> AuditEntry:
    """``states``: ``before=`` and/or ``after=``."""
    return AuditEntry(
        at=at,
        actor=who.actor,
        token_id=who.token_id,
        action=action,
        target_type=action.split(".", 1)[0],
        target_id=target_id,
        team_id=team_id,
        before=states.get("before"),
        after=states.get("after"),
    )


async def record(conn: Conn, item: AuditEntry) -> None:
    await conn.execute(
        "INSERT INTO router_audit (at, actor, token_id, action, target_type, target_id, team_id, before, after) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        item.at,
        item.actor,
        item.token_id,
        item.action,
        item.target_type,
        item.target_id,
        item.team_id,
        item.before,
        item.after,
    )


async def record_sa(conn: AsyncConnection, item: AuditEntry) -> None:
    await conn.execute(audit.insert().values(asdict(item)))


async def record_reload(
    engine: AsyncEngine, who: Principal, at: datetime, before: dict[str, Any], after: dict[str, Any]
) -> None:
    """A configuration reload, from the API or SIGHUP: the versions before and after, or the errors."""
    async with engine.begin() as conn:
        await record_sa(conn, entry(who, at, "config.reload", "ownership", before=before, after=after))
