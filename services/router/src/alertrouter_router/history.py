"""Retention: the timer pass that deletes history older than ``ROUTER_RETENTION_DAYS`` and audit entries older
than ``ROUTER_AUDIT_RETENTION_DAYS`` (``db/retention.py``).

Once an hour per process, batch after batch until nothing older is left; off (0) by default, so nothing is deleted
unless an operator chose how long to keep it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from alertrouter_router.db.retention import prune_batch
from alertrouter_shared.logging import get_logger
from alertrouter_shared.metrics import HISTORY_DELETED

if TYPE_CHECKING:
    from alertrouter_router.state import RouterState

log = get_logger(__name__)

PRUNE_EVERY = timedelta(hours=1)
BATCH = 1000


async def prune_history(state: RouterState) -> int:
    """One batch per timer poll, and 0 back, so the timer loop moves on at once: a year of history deleted when a
    retention is first set must not hold up the escalation steps behind it. The hour's round ends when a batch
    finds nothing."""
    days, audit_days = state.settings.retention_days, state.settings.audit_retention_days
    now = state.clock.now()
    if not (days or audit_days) or (
        state.history_pruned_at is not None and now - state.history_pruned_at < PRUNE_EVERY
    ):
        return 0
    async with state.pool.acquire() as conn:
        deleted = await prune_batch(conn, _cutoff(now, days), BATCH, _cutoff(now, audit_days))
    for table, count in deleted.items():
        HISTORY_DELETED.labels(table).inc(count)
    if deleted:
        log.info("history_pruned", retention_days=days, audit_retention_days=audit_days, deleted=deleted)
    else:
        state.history_pruned_at = now
    return 0


def _cutoff(now: datetime, days: int) -> datetime | None:
    return now - timedelta(days=days) if days else None
