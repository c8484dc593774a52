"""Incident timeline entries that are not decisions: delivery results from the notifier, human notes.

A delivery result that failed for good may mean a whole escalation level reached nobody (``unreached.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aiokafka import ConsumerRecord
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from alertrouter_router.db.tables import timeline
from alertrouter_router.unreached import escalate_unreached, incidents_with_failures
from alertrouter_shared.events import DeliveryResult
from alertrouter_shared.logging import get_logger

if TYPE_CHECKING:
    from alertrouter_router.state import RouterState

log = get_logger(__name__)


_INSERT_ENTRIES = insert(timeline).on_conflict_do_nothing(constraint="uq_router_timeline_kind_ref")


async def add_entries(conn: AsyncConnection, entries: Sequence[dict[str, Any]]) -> None:
    """Entries (incident_id, at, kind, ref, data) as one statement run over the batch's rows; one already
    recorded (same kind and ref) is skipped."""
    if entries:
        await conn.execute(_INSERT_ENTRIES, list(entries))


async def for_incident(conn: AsyncConnection, incident_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(timeline).where(timeline.c.incident_id == incident_id).order_by(timeline.c.at, timeline.c.id)
    )
    return [dict(r._mapping) for r in rows]


async def handle_delivery_batch(state: RouterState, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
    """Idempotent: one timeline entry per (delivery, attempt, status)."""
    results: list[DeliveryResult] = []
    for record in records:
        try:
            results.append(DeliveryResult.model_validate_json(record.value or b""))
        except ValidationError:
            log.warning("delivery_record_undecodable", offset=record.offset)
    if not results:
        return
    entries = [
        {
            "incident_id": result.incident_id,
            "at": result.at,
            "kind": "delivery",
            "ref": f"{result.delivery_id}:{result.attempt}:{result.status.value}",
            "data": result.model_dump(mode="json"),
        }
        for result in results
    ]
    async with state.engine.begin() as conn:
        await add_entries(conn, entries)
    await escalate_unreached(state, incidents_with_failures(results))
