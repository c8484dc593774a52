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
from pydantic import ValidationError

from alertrouter_router import work
from alertrouter_router.db import snapshot_reads
from alertrouter_router.decisions.decide import Effects
from alertrouter_shared.events import AlertEvent
from alertrouter_shared.isolation import store_isolating
from alertrouter_shared.kafka import produce_all
from alertrouter_shared.logging import get_logger
from alertrouter_shared.metrics import DEAD_LETTERED
from alertrouter_shared.topics import ALERTS_DLQ

if TYPE_CHECKING:
    from alertrouter_router.state import RouterState

log = get_logger(__name__)

Record: TypeAlias = ConsumerRecord[bytes, bytes]


def _decode(records: Sequence[Record]) -> tuple[list[tuple[AlertEvent, Record]], list[Record]]:
    decoded: list[tuple[AlertEvent, Record]] = []
    bad: list[Record] = []
    for record in records:
        try:
            decoded.append((AlertEvent.model_validate_json(record.value or b""), record))
        except ValidationError:
            bad.append(record)
    return decoded, bad


async def _dead_letter(state: RouterState, records: list[Record]) -> None:
    if records:
        log.warning("alert_records_dead_lettered", count=len(records))
        await produce_all(state.producer, [(ALERTS_DLQ, r.key or b"", r.value or b"") for r in records], timeout=10)
        DEAD_LETTERED.labels(ALERTS_DLQ).inc(len(records))


async def handle_alert_batch(state: RouterState, records: Sequence[Record]) -> None:
    decoded, bad = _decode(records)
    await _dead_letter(state, bad)
    if not decoded:
        return

    async def process(events: list[AlertEvent]) -> Effects:
        return await process_batch(state, events)

    await _dead_letter(state, await store_isolating(decoded, process, "alert events", _event_context))


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
