"""Deliveries older than ``NOTIFIER_RETENTION_DAYS`` deleted, in batches (their attempts go with them: ON DELETE
CASCADE), so the ledger does not grow for ever.

Only a delivery that is over goes: not in flight, every attempt's result published to the router, and no page held
for it as a digest still in flight. The retention is at least 30 days (``alertrouter_shared.settings``), longer than
Kafka keeps a page, so no page can come back after its row, the ledger's memory of it, is gone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from alertrouter_notifier.db.tables import IN_FLIGHT

_PRUNE = text(
    "DELETE FROM notifier_delivery WHERE id IN (SELECT d.id FROM notifier_delivery AS d "
    "WHERE d.updated_at < :cutoff AND d.status <> ALL(:in_flight) "
    "AND NOT EXISTS (SELECT 1 FROM notifier_attempt AS a WHERE a.delivery_id = d.id AND a.published_at IS NULL) "
    "AND NOT EXISTS (SELECT 1 FROM notifier_delivery AS h WHERE h.digest_delivery_id = d.id "
    "AND h.status = ANY(:in_flight)) "
    "LIMIT :limit FOR UPDATE SKIP LOCKED)"
)


async def prune_deliveries(engine: AsyncEngine, cutoff: datetime, limit: int) -> int:
    """One batch of deliveries over before ``cutoff`` deleted; returns how many (0: none was left)."""
    async with engine.begin() as conn:
        result = await conn.execute(
            _PRUNE, {"cutoff": cutoff, "in_flight": [state.value for state in IN_FLIGHT], "limit": limit}
        )
    return result.rowcount
