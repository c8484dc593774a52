"""Group commit: several requests' records in one Kafka transaction, each request answered by its outcome.

A committer owns one transactional producer. It takes every request waiting as one group, commits the group in
one transaction before the earliest deadline of its requests, and answers them all; when the transaction does not
commit in time it refuses them all and aborts -- or, when the broker cannot even be asked, it discards the producer,
and the next one, registered with the same transactional id, fences it (the coordinator aborts what it left open).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.producer.transaction_manager import TransactionState

from alertrouter_ingest.broker_health import BrokerHealth
from alertrouter_ingest.metrics import PRODUCE_SECONDS, REQUESTS_OUTCOME_UNKNOWN, REQUESTS_PER_TRANSACTION, TRANSACTIONS
from alertrouter_ingest.producers import ABORT_GRACE_SECONDS, connect
from alertrouter_ingest.settings import IngestSettings
from alertrouter_shared.errors import TransientError
from alertrouter_shared.kafka import Record, discard_producer, make_producer, send_batched
from alertrouter_shared.logging import get_logger

log = get_logger(__name__)

# One transaction carries at most this much; a single request (bounded far lower by its own limits) is never split.
MAX_TRANSACTION_BYTES = 32 * 1024 * 1024


@dataclass(eq=False)
class PendingRequest:
    """One request's records waiting for a transaction; ``outcome`` is resolved by the committer."""

    records: Sequence[Record]
    deadline: float  # event-loop time
    outcome: asyncio.Future[None]
    size: int = field(init=False)
    taken: bool = False

    def __post_init__(self) -> None:
        self.size = sum(len(value) + len(key) for _, key, value in self.records)


class RequestQueue:
    """Requests waiting for the next free producer; a producer takes everything waiting as one group."""

    def __init__(self) -> None:
        self._items: deque[PendingRequest] = deque()
        self._waiting = asyncio.Event()

    def put(self, request: PendingRequest) -> None:
        self._items.append(request)
        self._waiting.set()

    async def take(self) -> list[PendingRequest]:
        while True:
            await self._waiting.wait()
            group = self._take_group()
            if not self._items:
                self._waiting.clear()
            if group:
                return group

    def _take_group(self) -> list[PendingRequest]:
        group: list[PendingRequest] = []
        size = 0
        while self._items:
            request = self._items[0]
            if group and size + request.size > MAX_TRANSACTION_BYTES:
                break
            self._items.popleft()
            if request.outcome.done():  # its sender gave up (deadline or disconnect): produce nothing
                continue
            request.taken = True
            group.append(request)
            size += request.size
        return group

    def __len__(self) -> int:
        return len(self._items)

    def discard(self, request: PendingRequest) -> None:
        """Drop a request its sender gave up on while it waited: its records go now, not when a producer is next
        free (they are no longer counted in the byte budget)."""
        request.outcome.cancel()
        with contextlib.suppress(ValueError):
            self._items.remove(request)

    def fail_all(self, reason: str) -> None:
        while self._items:
            request = self._items.popleft()
            if not request.outcome.done():
                request.outcome.set_exception(TransientError(reason))


class Committer:
    """One transactional producer: takes a group of requests, commits them in one transaction, answers them."""

    def __init__(
        self, settings: IngestSettings, queue: RequestQueue, health: BrokerHealth, transactional_id: str
    ) -> None:
        self._settings = settings
        self._queue = queue
        self._health = health
        self.transactional_id = transactional_id
        self.producer: AIOKafkaProducer | None = None
        self.busy = False

    async def run(self) -> None:
        while True:
            producer = await self._connect()
            self.producer = producer
            self._health.connection_changed.set()
            try:
                await self._serve(producer)
            finally:
                self.producer = None
                await discard_producer(producer, ABORT_GRACE_SECONDS)

    async def close(self) -> None:
        if self.producer is not None:
            producer, self.producer = self.producer, None
            await discard_producer(producer, ABORT_GRACE_SECONDS)

    async def _connect(self) -> AIOKafkaProducer:
        """A started producer whose transactional id is registered (which fences and aborts any predecessor)."""
        settings = self._settings

        def transactional() -> AIOKafkaProducer:
            return make_producer(
                settings,
                linger_ms=settings.kafka_linger_ms,
                transactional_id=self.transactional_id,
                transaction_timeout_ms=settings.kafka_transaction_timeout_ms,
            )

        async def register(producer: AIOKafkaProducer) -> None:
            await producer.begin_transaction()  # waits for InitProducerId
            await producer.commit_transaction()  # empty: completes locally

        return await connect(settings, transactional, register, self.transactional_id)

    async def _serve(self, producer: AIOKafkaProducer) -> None:
        """Commit groups until a transaction leaves the producer unusable."""
        while True:
            group = await self._queue.take()
            self.busy = True
            try:
                usable = await self._commit_group(producer, group)
            finally:
                self.busy = False
            if not usable:
                return

    async def _commit_group(self, producer: AIOKafkaProducer, group: list[PendingRequest]) -> bool:
        """Answer every request of ``group``; return whether the producer can start another transaction."""
        deadline = min(request.deadline for request in group)
        started = time.perf_counter()
        try:
            async with asyncio.timeout_at(deadline):
                await producer.begin_transaction()
                batches = await send_batched(producer, [record for request in group for record in request.records])
                # aiokafka's commit waits for the batches to be answered, not stored: one refused for good (over
                # max.message.bytes, UNKNOWN_SERVER_ERROR) is left out and the rest committed. Its error aborts.
                await asyncio.gather(*batches)
                await producer.commit_transaction()
        except (TimeoutError, KafkaError) as exc:
            if producer._txn_manager.state is TransactionState.COMMITTING_TRANSACTION:  # no public state in aiokafka
                REQUESTS_OUTCOME_UNKNOWN.inc(len(group))  # the commit was sent: these may yet be committed
            self._refuse(group, f"Kafka did not commit the transaction: {exc!r}")
            return await self._recover(producer, exc)
        except BaseException:
            self._refuse(group, "ingest stopped during the transaction")
            raise
        PRODUCE_SECONDS.observe(time.perf_counter() - started)
        TRANSACTIONS.labels("committed").inc()
        REQUESTS_PER_TRANSACTION.observe(len(group))
        for request in group:
            if not request.outcome.done():
                request.outcome.set_result(None)
        return True

    def _refuse(self, group: list[PendingRequest], reason: str) -> None:
        for request in group:
            if not request.outcome.done():
                request.outcome.set_exception(TransientError(reason))
        self._health.mark_failed()

    async def _recover(self, producer: AIOKafkaProducer, exc: BaseException) -> bool:
        """Abort what can be aborted; a producer stuck mid-commit or fenced is replaced instead."""
        log.warning("kafka_transaction_failed", transactional_id=self.transactional_id, error=repr(exc))
        state = producer._txn_manager.state  # aiokafka has no public transaction state
        if state is TransactionState.READY:  # no transaction was begun (still waiting for the producer id)
            return True
        if state not in (TransactionState.IN_TRANSACTION, TransactionState.ABORTABLE_ERROR):
            TRANSACTIONS.labels("abandoned").inc()  # committing, aborting or fenced: its outcome is the broker's
            return False
        try:
            async with asyncio.timeout(ABORT_GRACE_SECONDS):
                await producer.abort_transaction()
        except Exception as abort_error:
            log.warning("kafka_transaction_abort_failed", error=repr(abort_error))
            TRANSACTIONS.labels("abandoned").inc()
            return False
        TRANSACTIONS.labels("aborted").inc()
        return True
