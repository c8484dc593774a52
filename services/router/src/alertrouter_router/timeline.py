"""Incident timeline entries that are not decisions: delivery results from the notifier, human notes.

A delivery result that failed for good may mean a whole escalation level reached nobody (``unreached.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aiokafka import ConsumerRecord
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from alertrouter_router.db.tables import timeline
from alertrouter_router.unreached import escalate_unreached, incidents_with_failures
from alertrouter_shared.dead_letters import dead_letter, decode_records
from alertrouter_shared.events import DeliveryResult
from alertrouter_shared.isolation import store_isolating
from alertrouter_shared.logging import get_logger
from alertrouter_shared.topics import DELIVERIES_DLQ

if TYPE_CHECKING:
    from alertrouter_router.state import RouterState

log = get_logger(__name__)


# One statement per batch of results, autocommit: it is the only write of the batch, so BEGIN and COMMIT would
# be two more round trips for nothing. A result already recorded (same kind and ref) is skipped.
_INSERT_DELIVERY_ENTRIES = (
    "INSERT INTO router_timeline (incident_id, at, kind, ref, data) "
    "SELECT incident_id, at, 'delivery', ref, data::jsonb "
    "FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[]) AS t(incident_id, at, ref, data) "
    "ON CONFLICT ON CONSTRAINT uq_router_timeline_kind_ref DO NOTHING"
)


async def for_incident(conn: AsyncConnection, incident_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(timeline).where(timeline.c.incident_id == incident_id).order_by(timeline.c.at, timeline.c.id)
    )
    return [dict(r._mapping) for r in rows]


async def handle_delivery_batch(state: RouterState, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
    """Idempotent: one timeline entry per (delivery, attempt, status). A result the database refuses is
    dead-lettered with its reason, and the others of its batch are stored: retried as a batch, it held back every
    later result of its partition, and with them the escalations of levels that reached nobody.

    What cannot be decoded or stored is dead-lettered last, once the rest is stored and escalated: first, it was
    sent again each time the consumer loop retried the batch after a transient failure. A crash in between
    redelivers the batch, which is then dead-lettered (at least once, never lost)."""
    decoded, rejected = decode_records(records, DeliveryResult, "DeliveryResult v1")
    if decoded:
        rejected += await _store(state, decoded)
    if rejected:  # kept for an operator, and counted: a failure in one is an escalation this router missed
        reasons = [reason for _, reason in rejected][:3]
        log.warning("delivery_records_dead_lettered", count=len(rejected), reasons=reasons)
        await dead_letter(state.producer, DELIVERIES_DLQ, rejected, timeout=10)


async def _store(
    state: RouterState, decoded: list[tuple[DeliveryResult, ConsumerRecord[bytes, bytes]]]
) -> list[tuple[ConsumerRecord[bytes, bytes], str]]:
    """Stores the results and escalates where they say nobody was reached; returns the records not stored."""

    async def store(results: list[DeliveryResult]) -> None:
        async with state.pool.acquire() as conn:
            await conn.execute(
                _INSERT_DELIVERY_ENTRIES,
                [r.incident_id for r in results],
                [r.at for r in results],
                [f"{r.delivery_id}:{r.attempt}:{r.status.value}" for r in results],
                [r.model_dump_json() for r in results],
            )

    refused = await store_isolating(decoded, store, "delivery results", _result_context)
    refused_ids = {id(record) for record in refused}
    stored = [result for result, record in decoded if id(record) not in refused_ids]
    await escalate_unreached(state, incidents_with_failures(stored))
    return [(record, "could not be stored: see record_not_stored") for record in refused]


def _result_context(result: DeliveryResult) -> dict[str, str]:
    return {"delivery_id": result.delivery_id, "incident_id": result.incident_id}
