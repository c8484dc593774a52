"""The pages-topic handler: decode, dead-letter what cannot be decoded, admit the rest, then dispatch.

The handler returns (and the consumer loop commits offsets) only after the batch's delivery rows are committed,
so a page acknowledged to Kafka is always in the durable queue. Sending happens after that, in the dispatcher.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import TypeAlias

from aiokafka import AIOKafkaProducer, ConsumerRecord
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from alertrouter_notifier.db.claims import release_claims
from alertrouter_notifier.db.connections import autocommit
from alertrouter_notifier.dispatcher import Dispatcher
from alertrouter_notifier.intake import DeliveryRows, admit_rows, claimed_by_insert, delivery_rows, one_statement
from alertrouter_notifier.metrics import DELIVERIES, PAGES_RECEIVED
from alertrouter_notifier.policy import DeliveryPolicy
from alertrouter_notifier.publisher import ResultPublisher
from alertrouter_shared.clock import Clock
from alertrouter_shared.db_errors import is_transient
from alertrouter_shared.dead_letters import dead_letter, decode_records
from alertrouter_shared.errors import TransientError
from alertrouter_shared.events import Page
from alertrouter_shared.isolation import store_isolating
from alertrouter_shared.logging import get_logger

log = get_logger(__name__)

Record: TypeAlias = ConsumerRecord[bytes, bytes]


def _transaction(engine: AsyncEngine) -> AbstractAsyncContextManager[AsyncConnection]:
    return engine.begin()


class PageHandler:
    def __init__(
        self,
        engine: AsyncEngine,
        producer: AIOKafkaProducer,
        dispatcher: Dispatcher,
        publisher: ResultPublisher,
        policy: DeliveryPolicy,
        clock: Clock,
        publish_timeout: float,
        dlq_topic: str,
    ) -> None:
        self._dlq_topic = dlq_topic
        self._engine = engine
        self._producer = producer
        self._dispatcher = dispatcher
        self._publisher = publisher
        self._policy = policy
        self._clock = clock
        self._timeout = publish_timeout
        # Rows claimed by an admission INSERT that raised: its commit may have happened all the same.
        self._in_doubt: set[str] = set()

    async def __call__(self, records: Sequence[Record]) -> None:
        """A batch the notifier cannot admit for a reason other than an outage is admitted one page at a time, and
        the pages it cannot take are dead-lettered: one (an address that breaks the URL parser, say) was retried
        forever and held back every page after it on the partition.

        What cannot be decoded or admitted is dead-lettered last, once the rest is admitted: first, an undecodable
        page was sent again each time the consumer loop retried the batch after a transient failure. A crash in
        between redelivers the batch, which is then dead-lettered (at least once, never lost)."""
        decoded, rejected = decode_records(records, Page, "Page v1")
        self._dispatcher.dispatch_now(await self._release_in_doubt())
        if decoded:
            refused = await store_isolating(decoded, self._admit, "pages", _page_context)
            rejected += [(record, "could not be admitted: see record_not_stored") for record in refused]
        await self._dead_letter(rejected)

    async def _dead_letter(self, rejected: list[tuple[Record, str]]) -> None:
        if rejected:
            await dead_letter(self._producer, self._dlq_topic, rejected, self._timeout)
            PAGES_RECEIVED.labels("dead_lettered").inc(len(rejected))
            log.warning("pages_dead_lettered", count=len(rejected), reasons=[r for _, r in rejected][:3])

    async def _admit(self, pages: list[Page]) -> None:
        now = self._clock.now()
        slots = self._dispatcher.reserve(len(pages))
        rows: DeliveryRows = []
        try:
            rows = delivery_rows(pages, now, self._policy, send_slots=slots)
            begin = autocommit if one_statement(pages, now, self._policy) else _transaction
            async with begin(self._engine) as conn:
                outcome = await admit_rows(conn, rows, len(pages), now, self._policy)
        except Exception as exc:
            self._in_doubt.update(claimed_by_insert(rows))
            self._dispatcher.send_claimed([], slots)
            if not is_transient(exc):
                raise
            raise TransientError(f"database unavailable while admitting pages: {exc}") from exc
        self._dispatcher.send_claimed(outcome.claimed, slots)  # first: their leases run from admission
        PAGES_RECEIVED.labels("admitted").inc(len(pages) - outcome.duplicates)
        PAGES_RECEIVED.labels("duplicate").inc(outcome.duplicates)
        for (channel, ended_as), count in outcome.ended.items():
            DELIVERIES.labels(channel, ended_as).inc(count)
        if outcome.duplicates:
            log.info("pages_already_recorded", count=outcome.duplicates)
        await self._publisher.publish(outcome.results)
        self._dispatcher.dispatch_now(outcome.dispatch_now)

    async def _release_in_doubt(self) -> list[str]:
        """The claims of an admission that raised, if it committed after all, become due pages to send now."""
        if not self._in_doubt:
            return []
        try:
            async with autocommit(self._engine) as conn:
                released = await release_claims(conn, sorted(self._in_doubt), self._clock.now())
        except Exception as exc:
            if not is_transient(exc):
                raise
            raise TransientError(f"database unavailable while releasing in-doubt claims: {exc}") from exc
        self._in_doubt.clear()
        if released:
            log.warning("in_doubt_admission_committed", count=len(released))
        return released


def _page_context(page: Page) -> dict[str, str]:
    return {"page_id": page.page_id, "incident_id": page.incident_id}
