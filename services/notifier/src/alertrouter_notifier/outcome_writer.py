"""Stores and publishes send outcomes in batches: one statement and one produce per batch, not per delivery.

Concurrent sends finish at about the same time; each hands its outcome over and waits. The first outcome is
written at once (no added latency when the notifier is quiet); outcomes that arrive while a write is in flight go
together in the next one (group commit). Each waiter learns whether its claim still held (LeaseLost otherwise;
a write whose commit was in doubt is read back, so an outcome it did store is never taken for a lost claim).
Results are published from what the senders hold, after their rows are committed, without the writer waiting
for the broker's acknowledgement (the attempt table is the outbox: what fails to publish is swept later).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from alertrouter_notifier.db.connections import autocommit
from alertrouter_notifier.db.ledger import LeaseLost, Outcome, store_outcomes, stored_attempts
from alertrouter_notifier.destination import mask_destination
from alertrouter_notifier.outcomes import failure_reason
from alertrouter_notifier.publisher import ResultPublisher, StoredResult
from alertrouter_shared.clock import Clock
from alertrouter_shared.db_errors import is_transient
from alertrouter_shared.events import DeliveryResult
from alertrouter_shared.logging import get_logger

log = get_logger(__name__)

RECORD_ATTEMPTS = 5
MAX_BATCH = 500


@dataclass
class _Waiting:
    outcome: Outcome
    done: asyncio.Future[None]


class OutcomeWriter:
    def __init__(self, engine: AsyncEngine, publisher: ResultPublisher, clock: Clock) -> None:
        self._engine = engine
        self._publisher = publisher
        self._clock = clock
        self._queue: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None

    async def store(self, outcome: Outcome) -> None:
        """Returns once the outcome is committed; raises LeaseLost when the claim was taken over (nothing written)."""
        waiting = _Waiting(outcome, asyncio.get_running_loop().create_future())
        self._queue.append(waiting)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all())
        await waiting.done

    async def drain(self) -> None:
        if self._writer is not None:
            await asyncio.wait({self._writer})

    async def _write_all(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            try:
                self._settle(batch, await self._write(batch))
            except Exception as exc:
                if len(batch) == 1 or is_transient(exc):
                    _fail(batch, exc)
                    continue
                # One outcome the database refuses must not fail the others: their senders would be sent again.
                log.error("outcome_batch_retry_isolated", batch=len(batch), error=repr(exc))
                for item in batch:
                    try:
                        self._settle([item], await self._write([item]))
                    except Exception as one:
                        _fail([item], one)

    def _settle(self, batch: list[_Waiting], stored: dict[tuple[str, int], tuple[int, datetime]]) -> None:
        """Each waiter learns its fate; the stored outcomes' results go to the publisher."""
        published = []
        for item in batch:
            claimed = item.outcome.claimed
            row = stored.get((claimed.id, claimed.attempt))
            if row is None:
                item.done.set_exception(LeaseLost(f"delivery {claimed.id} attempt {claimed.attempt} lost its claim"))
                continue
            item.done.set_result(None)
            attempt_id, at = row
            published.append(delivery_result(item.outcome, attempt_id, at))
        self._publisher.publish_soon(published)  # the next batch is written while Kafka acknowledges this one

    async def _write(self, batch: list[_Waiting]) -> dict[tuple[str, int], tuple[int, datetime]]:
        """One statement for the batch, carrying the published marks of earlier batches; database hiccups are
        retried briefly (the lease covers a longer outage). Returns the attempt id and time stored per claim.

        A try that raised may have committed all the same (the connection lost after the server committed, before
        its answer). Its retry then finds those claims ended by that very commit and writes nothing for them, so
        after a try in doubt the claims the retry did not store are looked up: an outcome the try in doubt stored
        is reported stored, with its own row, not as a lost lease.
        """
        marks = self._publisher.take_marks()
        outcomes = [item.outcome for item in batch]
        in_doubt = False
        for attempt in range(1, RECORD_ATTEMPTS + 1):
            now = self._clock.now()
            try:
                async with autocommit(self._engine) as conn:
                    ids = await store_outcomes(conn, outcomes, now, marks)
                    stored = {claim: (attempt_id, now) for claim, attempt_id in ids.items()}
                    if in_doubt:
                        stored |= await self._stored_in_doubt(conn, outcomes, stored)
                    return stored
            except Exception as exc:
                if attempt == RECORD_ATTEMPTS or not is_transient(exc):  # a refusal: the same statement fails again
                    self._publisher.give_back_marks(marks)
                    raise
                in_doubt = True
                log.warning("delivery_record_retry", attempt=attempt, batch=len(batch))
                await asyncio.sleep(0.2 * attempt)
        raise AssertionError("unreachable")

    @staticmethod
    async def _stored_in_doubt(
        conn: AsyncConnection, outcomes: list[Outcome], stored: dict[tuple[str, int], tuple[int, datetime]]
    ) -> dict[tuple[str, int], tuple[int, datetime]]:
        claims = [(o.claimed.id, o.claimed.attempt) for o in outcomes]
        found = await stored_attempts(conn, [claim for claim in claims if claim not in stored])
        if found:
            log.warning("delivery_record_in_doubt_was_committed", count=len(found))
        return found


def _fail(batch: list[_Waiting], exc: Exception) -> None:
    for item in batch:
        if not item.done.done():
            item.done.set_exception(exc)


def delivery_result(outcome: Outcome, attempt_id: int, at: datetime) -> StoredResult:
    """The stored attempt as the deliveries topic carries it, built from what the sender already holds."""
    page, record = outcome.claimed.page, outcome.record
    reason = failure_reason(page.contact_method.type, record.status, record.provider_status_code, record.error)
    result = DeliveryResult(
        delivery_id=outcome.claimed.id,
        page_id=page.page_id,
        incident_id=page.incident_id,
        attempt=outcome.claimed.attempt,
        channel=page.contact_method.type,
        destination_masked=mask_destination(page.contact_method),
        status=record.status,
        provider=record.provider,
        provider_message_id=record.provider_message_id,
        provider_status_code=record.provider_status_code,
        error=record.error,
        latency_ms=record.latency_ms,
        at=at,
        user_id=page.user_id,
        contact_method_id=page.contact_method.id,
        failed_for_good=reason is not None,
        failure_reason=reason,
    )
    return StoredResult(attempt_id, result)
