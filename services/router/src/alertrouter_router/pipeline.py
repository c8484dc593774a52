"""The router's story for one consumer batch of alert events, top to bottom.

decode → skip events already decided (redelivery) → route (service, team, policy) → dedup against the open
incident → lifecycle (trigger / acknowledge / resolve) → escalate level 1 → record the decision → pages into the
outbox. One transaction per batch, one savepoint per event, so a bad event cannot block its partition.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from aiokafka import ConsumerRecord
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, OperationalError

from alertrouter_router import decisions, lifecycle
from alertrouter_router.context import EventContext
from alertrouter_router.incidents import CurrentIncidents
from alertrouter_router.maintenance import ApiWindows
from alertrouter_router.writes import PendingWrites
from alertrouter_shared.errors import TransientError
from alertrouter_shared.events import AlertEvent
from alertrouter_shared.kafka import produce_all
from alertrouter_shared.logging import bound_context, get_logger
from alertrouter_shared.topics import ALERTS_DLQ

if TYPE_CHECKING:
    from alertrouter_router.runtime import RouterState

log = get_logger(__name__)


def _decode(
    records: Sequence[ConsumerRecord[bytes, bytes]],
) -> tuple[list[AlertEvent], list[ConsumerRecord[bytes, bytes]]]:
    events: list[AlertEvent] = []
    bad: list[ConsumerRecord[bytes, bytes]] = []
    for record in records:
        try:
            events.append(AlertEvent.model_validate_json(record.value or b""))
        except ValidationError:
            bad.append(record)
    return events, bad


async def _dead_letter(state: RouterState, records: list[ConsumerRecord[bytes, bytes]]) -> None:
    if records:
        log.warning("alert_records_dead_lettered", count=len(records))
        await produce_all(state.producer, [(ALERTS_DLQ, r.key or b"", r.value or b"") for r in records], timeout=10)


async def handle_alert_batch(state: RouterState, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
    events, bad = _decode(records)
    await _dead_letter(state, bad)
    good = [r for r in records if r not in bad]
    try:
        try:
            failed = await _process(state, events, good, isolate=False)
        except Exception as exc:
            if _is_transient(exc):
                raise
            # One event broke the batch: run it again with a savepoint per event, so only that one is set aside.
            log.warning("alert_batch_retry_isolated", error=repr(exc))
            failed = await _process(state, events, good, isolate=True)
    except (OperationalError, OSError) as exc:
        raise TransientError(f"database unavailable: {exc!r}") from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise TransientError(f"database connection lost: {exc!r}") from exc
        raise
    await _dead_letter(state, failed)


def _is_transient(exc: Exception) -> bool:
    if isinstance(exc, DBAPIError):
        return isinstance(exc, OperationalError) or exc.connection_invalidated
    return isinstance(exc, OSError | TransientError)


async def _process(
    state: RouterState, events: list[AlertEvent], records: list[ConsumerRecord[bytes, bytes]], *, isolate: bool
) -> list[ConsumerRecord[bytes, bytes]]:
    """Handle decoded events in one transaction; return the records of events that failed for good.

    Without ``isolate`` any failure aborts the whole transaction (the fast path: no savepoint round trips); with it,
    each event runs in its own savepoint and a failing event is returned instead of raising.
    """
    failed: list[ConsumerRecord[bytes, bytes]] = []
    writes = PendingWrites()
    windows = ApiWindows()
    current = CurrentIncidents()
    async with state.engine.begin() as conn:
        done = await decisions.already_decided(conn, [str(e.event_id) for e in events])
        await current.prefetch(conn, {e.dedup_key for e in events if str(e.event_id) not in done})
        for event, record in zip(events, records, strict=True):
            if str(event.event_id) in done:
                continue
            done.add(str(event.event_id))
            with bound_context(event_id=str(event.event_id), dedup_key=event.dedup_key):
                ctx = EventContext(
                    conn=conn,
                    config=state.configs.current,
                    now=state.clock.now(),
                    writes=writes,
                    windows=windows,
                    incidents=current,
                )
                if not isolate:
                    await lifecycle.process_event(ctx, event, state.settings.max_event_age_seconds)
                    continue
                try:
                    async with conn.begin_nested():
                        await lifecycle.process_event(ctx, event, state.settings.max_event_age_seconds)
                        await writes.flush_and_log(conn)  # inside the savepoint: a failed event leaves nothing
                except Exception as exc:
                    if _is_transient(exc):
                        raise
                    log.exception("alert_event_failed")
                    failed.append(record)
                    writes.decisions.clear()
                    writes.pages.clear()
                    writes.steps.clear()
        await writes.flush_and_log(conn)
    return failed
