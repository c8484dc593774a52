"""One unit of routing work: ``decide`` on a snapshot read in the caller's transaction, then write the effects.

The consumer batch, the timer loop and the API's person actions all go through here; only how the snapshot is
read (and locked) differs. Metrics and decision log lines follow the commit, so a rolled-back unit counts nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from alertrouter_router.db import effect_writes
from alertrouter_router.db.pool import Conn
from alertrouter_router.decide import Effects, Input, Rules, Snapshot, decide
from alertrouter_router.decisions import Decision
from alertrouter_router.maintenance import Maintenance
from alertrouter_router.metrics import (
    DECISIONS,
    INCIDENTS_OPENED,
    INCIDENTS_RESOLVED,
    MTTA,
    MTTR,
    PAGES_EMITTED,
    TIMER_LAG,
)
from alertrouter_router.ownership.loader import LoadedConfig
from alertrouter_shared.logging import get_logger

log = get_logger(__name__)


async def run_unit(
    conn: Conn,
    inputs: Sequence[Input],
    snapshot: Snapshot,
    maintenance: Maintenance,
    config: LoadedConfig,
    now: datetime,
    rules: Rules,
) -> tuple[Effects, list[Decision]]:
    """Inside the caller's transaction, after it read the snapshot: returns the effects and the new decisions."""
    effects = decide(inputs, snapshot, config, maintenance, now, rules)
    recorded = await effect_writes.write(conn, effects, now)
    return effects, recorded


def after_commit(effects: Effects, recorded: list[Decision], now: datetime) -> None:
    """Count and log what was committed."""
    for item in recorded:
        DECISIONS.labels(item.outcome.value).inc()
        log.info(
            "decision",
            decision_id=item.id,
            incident_id=item.incident_id,
            dedup_key=item.dedup_key,
            outcome=item.outcome.value,
            service=item.service_id,
            reason=item.reason,
        )
    for page in effects.pages:
        PAGES_EMITTED.labels(str(page.escalation_level)).inc()
    for step in effects.fired:
        TIMER_LAG.observe(max(0.0, (now - step.due_at).total_seconds()))
    for incident in effects.opened:
        INCIDENTS_OPENED.labels(incident.service_id or "").inc()
    for incident in effects.acknowledged:
        MTTA.labels(incident.service_id or "").observe(max(0.0, (now - incident.opened_at).total_seconds()))
    for incident in effects.resolved:
        INCIDENTS_RESOLVED.labels(incident.service_id or "").inc()
        MTTR.labels(incident.service_id or "").observe(max(0.0, (now - incident.opened_at).total_seconds()))
