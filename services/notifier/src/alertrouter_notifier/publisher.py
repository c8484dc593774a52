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
# Rows the outbox sweep reads, produces and marks at a time; it goes on with the next batch while it finds full ones.
SWEEP_BATCH = 500

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
        self._sweeping: asyncio.Task[None] | None = None
        self._closing = False

    async def publish(self, attempt_ids: Sequence[int]) -> None:
        if not attempt_ids:
            return
        query = (
            select(*_COLUMNS)
            .join(delivery, delivery.c.id == attempt.c.delivery_id)
            .where(attempt.c.id.in_(list(attempt_ids)), attempt.c.published_at.is_(None))
        )
        await self._publish_rows(query)

    def sweep_soon(self, older_than: timedelta) -> None:
        """Start a sweep in the background unless one still runs: its caller (the retry worker, which also claims
        due retries) never waits for the broker, whose absence must delay results, never pages."""
        if self._closing or (self._sweeping is not None and not self._sweeping.done()):
            return
        self._sweeping = asyncio.create_task(self._sweep_logged(older_than))

    async def _sweep_logged(self, older_than: timedelta) -> None:
        try:
            await self.sweep(older_than)
        except Exception:  # the rows stay unpublished: the next sweep tries again
            log.exception("delivery_results_sweep_failed")

    async def sweep(self, older_than: timedelta, batch: int = SWEEP_BATCH) -> int:
        """Republish what an earlier publish could not (broker down, process killed in between); not while results
        that old still wait for the broker (they would only be queued twice). Returns how many it published.

        Fresh results waiting do not hold it back: under steady load some always wait, and a sweep that waited for
        none left a failure the broker dropped unpublished (the router not escalating on it) until the load ended.

        A backlog (a long broker outage) is drained in one call, batch after batch in id order: each batch is
        produced at once, and marked published with one statement only once the broker acknowledged all of it.
        The sweep took one batch of 500 per housekeeping pass (every 5 s), so 100 results a second: an hour's
        backlog took as long again to reach the router. It ends at the first batch the broker does not take, or
        the first that is not full.
        """
        cutoff = self._clock.now() - older_than
        if any(at < cutoff for at in self._unacknowledged()):
            return 0
        published = 0
        after = 0  # keyset: a batch whose mark failed is not taken again by this sweep
        while not self._closing:
            query = (
                select(*_COLUMNS)
                .join(delivery, delivery.c.id == attempt.c.delivery_id)
                .where(attempt.c.published_at.is_(None), attempt.c.at < cutoff, attempt.c.id > after)
                .order_by(attempt.c.id)
                .limit(batch)
            )
            async with autocommit(self._engine) as conn:
                rows = (await conn.execute(query)).mappings().all()
            if not rows:
                break
            stored = [StoredResult(row["id"], _to_result(row)) for row in rows]
            if not await self._produce(stored):
                break
            await self._mark_now([s.attempt_id for s in stored])
            published += len(stored)
            after = stored[-1].attempt_id
            if len(rows) < batch:
                break
        if published:
            log.info("delivery_results_swept", count=published)
        return published

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
        if not stored or not await self._produce(stored):
            return
        self._unmarked.extend(s.attempt_id for s in stored)
        if self._marker is None or self._marker.done():
            self._marker = asyncio.create_task(self._mark_soon())

    async def _produce(self, stored: Sequence[StoredResult]) -> bool:
        """Produce the results in order and wait for every acknowledgement; False (counted) if the broker did not
        take them all in time: nothing of the batch may then be marked published."""
        records = [(self._topic, delivery_key(s.result), s.result.model_dump_json().encode()) for s in stored]
        try:
            await produce_all(self._producer, records, self._timeout)
        except TransientError as exc:
            RESULTS_UNPUBLISHED.inc(len(records))
            log.warning("delivery_results_not_published", count=len(records), error=str(exc))
            return False
        return True

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
        await self._mark_now(self.take_marks())

    async def _mark_now(self, ids: list[int]) -> None:
        """One statement for the ids; those it fails to mark ride on the next outcome write or the next flush."""
        if not ids:
            return
        try:
            await self._mark_published(ids, self._clock.now())
        except Exception as exc:
            log.warning("delivery_results_not_marked", count=len(ids), error=repr(exc))
            self._unmarked.extend(ids)

    async def close(self) -> None:
        self._closing = True  # a sweep stops after its batch in hand; the next start's sweep takes the rest
        for task in (self._publishing, self._sweeping):
            if task is not None:  # bounded: what the broker does not take by then waits for the next sweep
                await asyncio.wait({task}, timeout=self._timeout)
                task.cancel()
                await asyncio.wait({task})  # let the cancellation finish before the producer stops
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
