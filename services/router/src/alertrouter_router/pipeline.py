"""The router's story for one consumer batch of alert events, top to bottom.

decode → one transaction: lock and read the snapshot (the batch's alerts, their incidents, open groups, API
maintenance windows) → ``decide`` → write the effects set-based → commit → one offset commit (by the consumer
loop). A batch that fails for a reason other than the database being unavailable is retried one event per
transaction, so only the event that cannot be stored is dead-lettered; then a ``not_stored`` decision says so,
for whoever asks why nobody was paged.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, TypeAlias

from aiokafka import ConsumerRecord

from alertrouter_router import work
from alertrouter_router.db import effect_writes, snapshot_reads
from alertrouter_router.decisions.decide import Effects
from alertrouter_router.decisions.not_stored import not_stored_decision, refusal_text
from alertrouter_router.metrics import NOT_STORED_UNDECIDED
from alertrouter_shared.dead_letters import dead_letter, decode_records
from alertrouter_shared.events import AlertEvent
from alertrouter_shared.isolation import Refusal, refusals_isolating
from alertrouter_shared.logging import bound_context, get_logger
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
    refused: list[Refusal[AlertEvent]] = []
    if decoded:

        async def process(events: list[AlertEvent]) -> Effects:
            return await process_batch(state, events)

        refused = await refusals_isolating(decoded, process, "alert events", _event_context)
        rejected += [(r.record, "could not be stored: see record_not_stored") for r in refused]
    await _dead_letter(state, rejected)
    for refusal in refused:
        await _decide_not_stored(state, refusal)


async def _decide_not_stored(state: RouterState, refusal: Refusal[AlertEvent]) -> None:
    """A ``not_stored`` decision for a refused event, after its dead-letter, in a transaction of its own.

    Its id is derived from the event's: a redelivery (a crash before the offset commit) writes it once. What the
    database refused may break this insert too, though the decision is made storable: then it is logged and
    counted, never raised, for the event is in the dead-letter topic and the partition must move on."""
    with bound_context(**_event_context(refusal.item)):
        try:
            decision = not_stored_decision(refusal.item, refusal.error, ALERTS_DLQ, state.configs.current)
            async with state.pool.acquire() as conn, conn.transaction():
                recorded = await effect_writes.write_decisions(conn, [decision], state.clock.now())
        except Exception as exc:
            NOT_STORED_UNDECIDED.inc()
            log.error("not_stored_decision_not_written", refusal=refusal_text(refusal.error), error=refusal_text(exc))
            return
    work.count_decisions(recorded)


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
