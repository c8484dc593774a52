"""One unit of routing work: ``decide`` on a snapshot read in the caller's transaction, then write the effects.

The consumer batch, the timer loop and the API's person actions all go through here; only how the snapshot is
read (and locked) differs. Metrics and decision log lines follow the commit, so a rolled-back unit counts nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from alertrouter_router.db import effect_writes
from alertrouter_router.db.pool import Conn
from alertrouter_router.decisions import Decision
from alertrouter_router.decisions.decide import Effects, Input, Rules, Snapshot, decide
from alertrouter_router.decisions.incidents import IncidentStatus
from alertrouter_router.decisions.maintenance import Maintenance
from alertrouter_router.decisions.paging import escalation_updates, update_pages
from alertrouter_router.metrics import (
    DECISIONS,
    INCIDENTS_OPENED,
    INCIDENTS_RESOLVED,
    MTTA,
    MTTR,
    PAGES_EMITTED,
    TIMER_LAG,
)
from alertrouter_router.outbox import OutboxPublisher
from alertrouter_router.ownership.loader import LoadedConfig
from alertrouter_shared.events import Page
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
    if effects.updates or effects.escalations:
        effects.pages += await _status_updates(conn, effects, config, now)
    recorded = await effect_writes.write(conn, effects, now)
    return effects, recorded


async def _status_updates(conn: Conn, effects: Effects, config: LoadedConfig, now: datetime) -> list[Page]:
    """Those already paged for an incident that was acknowledged, resolved or escalated are told, from the pages
    they got: published ones, and those due but not yet marked published (the fast lane marks a page after Kafka
    acknowledged it, up to seconds later: a resolve in between told nobody). A page still held by its
    notification rule's delay reached nobody yet."""
    actors = {incident.id: by for incident, by in effects.updates}
    rows = await conn.fetch(
        "SELECT incident_id, payload FROM router_outbox WHERE incident_id = ANY($1::text[]) "
        "AND (published_at IS NOT NULL OR send_at <= $2) ORDER BY created_at",
        sorted(set(actors) | {e.incident_id for e in effects.escalations}),
        now,
    )
    paged: dict[str, list[Page]] = {}
    for row in rows:
        paged.setdefault(row["incident_id"], []).append(Page.model_validate_json(row["payload"]))
    updates: list[Page] = []
    for incident_id, actor in actors.items():
        incident = effects.incidents[incident_id]
        if incident.status is IncidentStatus.TRIGGERED:
            continue  # escalated again in the same unit: the escalation's update is the news
        decision = next(d.id for d in reversed(effects.decisions) if d.incident_id == incident_id)
        updates += update_pages(config, incident, paged.get(incident_id, []), actor, decision, now)
    for escalated in effects.escalations:
        incident = effects.incidents[escalated.incident_id]
        if incident.status is IncidentStatus.TRIGGERED:
            updates += escalation_updates(config, incident, paged.get(incident.id, []), escalated, now)
    return updates


def after_commit(effects: Effects, recorded: list[Decision], now: datetime, publisher: OutboxPublisher) -> None:
    """Publish the pages due now, count and log what was committed."""
    if effects.pages:
        publisher.hand_over(effects.pages, now)
    count_decisions(recorded)
    for page in effects.pages:
        PAGES_EMITTED.labels(str(page.escalation_level)).inc()
    for step in effects.fired:
        TIMER_LAG.observe(max(0.0, (now - step.due_at).total_seconds()))
    # drills rehearse the path; they never count as incidents, nor in MTTA/MTTR (drills/ reports them)
    for incident in (i for i in effects.opened if not i.drill):
        INCIDENTS_OPENED.labels(incident.service_id or "").inc()
    for incident in (i for i in effects.acknowledged if not i.drill):
        MTTA.labels(incident.service_id or "").observe(max(0.0, (now - incident.opened_at).total_seconds()))
    for incident in (i for i in effects.resolved if not i.drill):
        INCIDENTS_RESOLVED.labels(incident.service_id or "").inc()
        MTTR.labels(incident.service_id or "").observe(max(0.0, (now - incident.opened_at).total_seconds()))


def count_decisions(recorded: Sequence[Decision]) -> None:
    """Count and log decisions once committed (``after_commit``, and an alert's ``not_stored`` decision)."""
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
