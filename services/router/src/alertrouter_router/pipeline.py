"""The router's story for one consumer batch of alert events, top to bottom.

decode → one transaction: lock and read the snapshot (the batch's alerts, their incidents, open groups, API
maintenance windows) → ``decide`` → write the effects set-based → commit → one offset commit (by the consumer
loop). A batch that fails for a reason other than the database being unavailable is retried one event per
transaction, so only the event that cannot be stored is dead-lettered.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, TypeAlias

from aiokafka import ConsumerRecord

from alertrouter_router import work
from alertrouter_router.db import snapshot_reads
from alertrouter_router.decisions.decide import Effects
from alertrouter_shared.dead_letters import dead_letter, decode_records
from alertrouter_shared.events import AlertEvent
from alertrouter_shared.isolation import store_isolating
from alertrouter_shared.logging import get_logger
from alertrouter_shared.topics import ALERTS_DLQ

if TYPE_CHECKING:
    from alertrouter_router.state import RouterState

log = get_logger(__name__)

Record: TypeAlias = ConsumerRecord[bytes, bytes]


async def _dead_letter(state: RouterState, rejected: list[tuple[Record, str]]) -> None:
    """With the reason in the record's ``error`` header, and in the log: a count alone left the operator to
    guess why an alert never got a decision."""
    if rejected:
        log.warning("alert_records_dead_lettered", count=len(rejected), reasons=[r for _, r in rejected][:3])
        await dead_letter(state.producer, ALERTS_DLQ, rejected, timeout=10)


async def handle_alert_batch(state: RouterState, records: Sequence[Record]) -> None:
    """Store the batch's events, then dead-letter what could not be decoded or stored, last.

    Dead-lettered first, an undecodable record went to the topic again each time the consumer loop retried the
    batch after a transient failure of the store: a copy per retry. Last, it is sent once the rest is stored: a
    crash in between redelivers the batch (its offsets are not committed), which stores nothing new and
    dead-letters it then -- at least once, never lost."""
    decoded, rejected = decode_records(records, AlertEvent, "AlertEvent v1")
    if decoded:

        async def process(events: list[AlertEvent]) -> Effects:
            return await process_batch(state, events)

        refused = await store_isolating(decoded, process, "alert events", _event_context)
        rejected += [(record, "could not be stored: see record_not_stored") for record in refused]
    await _dead_letter(state, rejected)


def _event_context(event: AlertEvent) -> dict[str, str]:
    return {"event_id": str(event.event_id), "dedup_key": event.dedup_key}


async def process_batch(state: RouterState, events: list[AlertEvent], now: datetime | None = None) -> Effects:
    """One transaction for the batch; ``now`` defaults to the process clock (tests decide at other instants)."""
    config = state.configs.current
    now = now or state.clock.now()
    async with state.pool.acquire() as conn, conn.transaction():
        snapshot, maintenance = await snapshot_reads.for_events(conn, events, config, now)
        effects, recorded = await work.run_unit(conn, events, snapshot, maintenance, config, now, state.rules)
    work.after_commit(effects, recorded, now, state.publisher)
    return effects
