"""Publishes stored attempt records to the deliveries topic (the attempt table is the outbox).

Results are written in the same transaction as the delivery state, then published; a failed publish leaves
``published_at`` empty and the sweeper retries it, so the router's timeline eventually sees every attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiokafka import AIOKafkaProducer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from alertrouter_notifier.db.connections import autocommit
from alertrouter_notifier.db.tables import attempt, delivery
from alertrouter_notifier.metrics import RESULTS_UNPUBLISHED
from alertrouter_notifier.outcomes import failure_reason
from alertrouter_shared.clock import Clock
from alertrouter_shared.errors import TransientError
from alertrouter_shared.events import ContactMethodType, DeliveryResult, DeliveryStatus
from alertrouter_shared.kafka import produce_all
from alertrouter_shared.logging import get_logger
from alertrouter_shared.topics import delivery_key

log = get_logger(__name__)

# Published marks wait this long for the next outcome write to carry them (see OutcomeWriter) before they are
# written on their own; well inside the outbox sweep's grace (OUTBOX_GRACE), so a result is not published again
# only because its mark was waiting.
MARK_DELAY_SECONDS = 1.0
# Results waiting in memory for the broker; beyond this they wait in the table for the outbox sweep instead (a
# broker away for long must not grow the process without bound).
MAX_WAITING_RESULTS = 10_000
PUBLISH_BATCH = 500

_COLUMNS = (
    attempt.c.id,
    attempt.c.delivery_id,
    attempt.c.attempt,
    attempt.c.status,
    attempt.c.provider,
    attempt.c.provider_message_id,
    attempt.c.provider_status_code,
    attempt.c.error,
    attempt.c.latency_ms,
    attempt.c.at,
    delivery.c.page_id,
    delivery.c.incident_id,
    delivery.c.channel,
    delivery.c.destination_masked,
    delivery.c.user_id,
    delivery.c.contact_method_id,
)


@dataclass(frozen=True)
class StoredResult:
    """An attempt row already committed, with the result it publishes."""

    attempt_id: int
    result: DeliveryResult


class ResultPublisher:
    def __init__(
        self, engine: AsyncEngine, producer: AIOKafkaProducer, clock: Clock, timeout: float, topic: str
    ) -> None:
        self._topic = topic
        self._engine = engine
        self._producer = producer
        self._clock = clock
        self._timeout = timeout
        self._unmarked: list[int] = []
        self._marker: asyncio.Task[None] | None = None
        self._waiting: list[StoredResult] = []
        self._in_flight: list[StoredResult] = []
        self._publishing: asyncio.Task[None] | None = None

    async def publish(self, attempt_ids: Sequence[int]) -> None:
        if not attempt_ids:
            return
        query = (
            select(*_COLUMNS)
            .join(delivery, delivery.c.id == attempt.c.delivery_id)
            .where(attempt.c.id.in_(list(attempt_ids)), attempt.c.published_at.is_(None))
        )
        await self._publish_rows(query)

    async def sweep(self, older_than: timedelta, limit: int = 500) -> None:
        """Republish what an earlier publish could not (broker down, process killed in between); not while results
        that old still wait for the broker (they would only be queued twice).

        Fresh results waiting do not hold it back: under steady load some always wait, and a sweep that waited for
        none left a failure the broker dropped unpublished (the router not escalating on it) until the load ended.
        """
        cutoff = self._clock.now() - older_than
        if any(at < cutoff for at in self._unacknowledged()):
            return
        query = (
            select(*_COLUMNS)
            .join(delivery, delivery.c.id == attempt.c.delivery_id)
            .where(attempt.c.published_at.is_(None), attempt.c.at < cutoff)
            .order_by(attempt.c.id)
            .limit(limit)
        )
        await self._publish_rows(query)

    def publish_soon(self, stored: Sequence[StoredResult]) -> None:
        """Publish results just committed, in order, without the caller waiting for the broker.

        The outcome writer commits the next batch (and gives the send slots back) while Kafka acknowledges this
        one: a slow or absent broker delays the router's view of results, never the sending of pages.
        """
        room = MAX_WAITING_RESULTS - len(self._waiting)
        if len(stored) > room:
            left = len(stored) - max(room, 0)
            RESULTS_UNPUBLISHED.inc(left)
            log.warning("delivery_results_left_to_sweep", count=left, waiting=len(self._waiting))
            stored = stored[: max(room, 0)]
        self._waiting.extend(stored)
        if self._waiting and (self._publishing is None or self._publishing.done()):
            self._publishing = asyncio.create_task(self._publish_waiting())

    def _unacknowledged(self) -> list[datetime]:
        """When each result waiting for the broker, or being published, was stored."""
        return [s.result.at for s in self._in_flight] + [s.result.at for s in self._waiting]

    async def _publish_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:PUBLISH_BATCH], self._waiting[PUBLISH_BATCH:]
            self._in_flight = batch
            try:
                await self.publish_results(batch)
            except Exception:  # the rows are committed: the outbox sweep publishes them
                log.exception("delivery_results_publish_crashed", count=len(batch))
            finally:
                self._in_flight = []

    async def publish_results(self, stored: Sequence[StoredResult]) -> None:
        """Publish results the caller has just stored (no need to read them back), then mark them published."""
        if not stored:
            return
        records = [(self._topic, delivery_key(s.result), s.result.model_dump_json().encode()) for s in stored]
        try:
            await produce_all(self._producer, records, self._timeout)
        except TransientError as exc:
            RESULTS_UNPUBLISHED.inc(len(records))
            log.warning("delivery_results_not_published", count=len(records), error=str(exc))
            return
        self._unmarked.extend(s.attempt_id for s in stored)
        if self._marker is None or self._marker.done():
            self._marker = asyncio.create_task(self._mark_soon())

    def take_marks(self) -> list[int]:
        """The attempt ids published and not yet marked, for the next outcome write to mark in its statement."""
        ids, self._unmarked = self._unmarked, []
        return ids

    def give_back_marks(self, ids: list[int]) -> None:
        """Marks a failed write could not carry: marked on their own (or by the next write) after all."""
        self._unmarked.extend(ids)

    async def _mark_soon(self) -> None:
        """Mark what was published and no outcome write carried, with one statement, not one per delivery.

        A row left unmarked (a crash in between, a database hiccup) is only published again by the sweep, older
        than OUTBOX_GRACE: a repeat that consumers already treat as the same result.
        """
        await asyncio.sleep(MARK_DELAY_SECONDS)
        await self.flush_marks()

    async def flush_marks(self) -> None:
        ids = self.take_marks()
        if not ids:
            return
        try:
            await self._mark_published(ids, self._clock.now())
        except Exception as exc:
            log.warning("delivery_results_not_marked", count=len(ids), error=repr(exc))

    async def close(self) -> None:
        if self._publishing is not None:  # bounded: what the broker does not take by then waits for the sweep
            await asyncio.wait({self._publishing}, timeout=self._timeout)
            self._publishing.cancel()
            await asyncio.wait({self._publishing})  # let the cancellation finish before the producer stops
        if self._marker is not None:
            with contextlib.suppress(Exception):
                await self._marker
        await self.flush_marks()

    async def _publish_rows(self, query: object) -> None:
        async with autocommit(self._engine) as conn:
            rows = (await conn.execute(query)).mappings().all()  # type: ignore[call-overload]
        self.publish_soon([StoredResult(row["id"], _to_result(row)) for row in rows])

    async def _mark_published(self, ids: list[int], now: datetime) -> None:
        async with autocommit(self._engine) as conn:
            await conn.execute(attempt.update().where(attempt.c.id.in_(ids)).values(published_at=now))


def _to_result(row: object) -> DeliveryResult:
    data = dict(row)  # type: ignore[call-overload]
    channel = ContactMethodType(data["channel"])
    status = DeliveryStatus(data["status"])
    reason = failure_reason(channel, status, data["provider_status_code"], data["error"])
    return DeliveryResult(
        delivery_id=data["delivery_id"],
        page_id=data["page_id"],
        incident_id=data["incident_id"],
        attempt=data["attempt"],
        channel=channel,
        destination_masked=data["destination_masked"],
        status=status,
        provider=data["provider"] or "",
        provider_message_id=data["provider_message_id"],
        provider_status_code=data["provider_status_code"],
        error=data["error"],
        latency_ms=data["latency_ms"],
        at=data["at"],
        user_id=data["user_id"],
        contact_method_id=data["contact_method_id"],
        failed_for_good=reason is not None,
        failure_reason=reason,
    )
