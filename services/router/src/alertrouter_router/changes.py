"""Change events (deploys, configuration changes) recorded per service, for the incident timeline.

Ingest produces PagerDuty change events to the changes topic; this consumer stores each once (idempotent by event
id, so a redelivered batch changes nothing), and the incident API shows the changes of an incident's service in
the hour before and after it opened ("deployed v2.3 12 minutes before"): context for the responder, never a page.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeAlias

from aiokafka import ConsumerRecord
from sqlalchemy import and_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from alertrouter_router.db.tables import change_event
from alertrouter_shared.dead_letters import dead_letter, decode_records
from alertrouter_shared.events import ChangeEvent
from alertrouter_shared.isolation import store_isolating
from alertrouter_shared.logging import get_logger
from alertrouter_shared.topics import CHANGES_DLQ

if TYPE_CHECKING:
    from alertrouter_router.state import RouterState

log = get_logger(__name__)

Record: TypeAlias = ConsumerRecord[bytes, bytes]

# How far from an incident's opening a change is still context for it.
AROUND_INCIDENT = timedelta(hours=1)


async def handle_change_batch(state: RouterState, records: Sequence[Record]) -> None:
    """Store every change of the batch once; what cannot be decoded or stored goes to the changes dead-letter topic.

    A batch the database refuses for a reason other than being unavailable is stored one change at a time, so one
    change it cannot take is set aside instead of holding back every change after it for good.

    Dead-lettered last, after the rest is stored, so a transient failure of the store, which the consumer loop
    retries, does not send an undecodable change once per attempt; a crash in between redelivers the batch and it
    is dead-lettered then (at least once, never lost)."""
    decoded, rejected = decode_records(records, ChangeEvent, "ChangeEvent v1")
    if decoded:

        async def store(changes: list[ChangeEvent]) -> None:
            async with state.engine.begin() as conn:
                await conn.execute(insert(change_event).values([_row(c) for c in changes]).on_conflict_do_nothing())

        refused = await store_isolating(decoded, store, "change events", lambda c: {"event_id": str(c.event_id)})
        rejected += [(record, "could not be stored: see record_not_stored") for record in refused]
    await _dead_letter(state, rejected, "change_records_dead_lettered")


async def _dead_letter(state: RouterState, rejected: list[tuple[Record, str]], event: str) -> None:
    if rejected:
        log.warning(event, count=len(rejected), reasons=[r for _, r in rejected][:3])
        await dead_letter(state.producer, CHANGES_DLQ, rejected, timeout=10)


def _row(change: ChangeEvent) -> dict[str, Any]:
    return {
        "event_id": str(change.event_id),
        "service_id": change.service_id,
        "integration_id": change.integration_id,
        "summary": change.summary,
        "source": change.source,
        "occurred_at": change.occurred_at,
        "received_at": change.received_at,
        "links": [link.model_dump(mode="json") for link in change.links],
        "custom_details": change.custom_details,
    }


async def around(conn: AsyncConnection, service_id: str | None, at: datetime) -> list[dict[str, Any]]:
    """Timeline entries (kind "change") for the service's changes within AROUND_INCIDENT of ``at``."""
    if service_id is None:
        return []
    rows = await conn.execute(
        select(change_event)
        .where(
            and_(
                change_event.c.service_id == service_id,
                change_event.c.occurred_at >= at - AROUND_INCIDENT,
                change_event.c.occurred_at <= at + AROUND_INCIDENT,
            )
        )
        .order_by(change_event.c.occurred_at)
    )
    return [
        {
            "at": row.occurred_at,
            "kind": "change",
            "change_id": row.event_id,
            "summary": row.summary,
            "source": row.source,
            "links": row.links,
            "custom_details": row.custom_details,
            "minutes_from_opening": round((row.occurred_at - at).total_seconds() / 60),
        }
        for row in rows
    ]
