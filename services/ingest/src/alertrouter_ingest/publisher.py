"""The only way alerts leave ingest: each request's events become visible in Kafka all together or not at all.

A request of one record (every Events v2 and CloudWatch request, many Alertmanager ones) is atomic by itself: it
goes through an idempotent producer and gets 2xx once the broker acknowledged it (acks=all). A Kafka transaction
would cost the broker about ten times the work and, back to back on one producer, about 20 ms of waiting.

A request of several records goes into a Kafka transaction and gets 2xx once it committed. Requests that arrive
together share one transaction (group commit), so its fixed cost (AddPartitionsToTxn and EndTxn round trips)
is paid once per group; several transactional producers work in turn, so one group is filled while another
commits. When a transaction does not commit before the earliest deadline of its requests, every request in it
is refused (503) and the transaction is aborted -- or, when the broker cannot even be asked, the producer is
discarded and a new one with the same transactional id fences it, which makes the coordinator abort what the
old one left open. Consumers read with ``read_committed``, so records of a refused request are never seen.

Two cases stay at-least-once, as in any protocol whose answer can be lost: a transaction whose commit reached the
broker but whose answer did not arrive in time, and a single record already sent when its deadline passed. The
request is refused although it was stored; the sender retries and the router's dedup absorbs the duplicate. A
single record still queued at the deadline is dropped with its producer, never delivered later. After a failure
the publisher refuses new requests at once, without queueing them, until a background probe sees the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.producer.transaction_manager import TransactionState

from alertrouter_ingest.metrics import (
    KAFKA_FAILURES,
    PRODUCE_SECONDS,
    REQUESTS_OUTCOME_UNKNOWN,
    REQUESTS_PER_TRANSACTION,
    TRANSACTIONS,
)
from alertrouter_ingest.settings import IngestSettings
from alertrouter_shared.errors import TransientError
from alertrouter_shared.events import AlertEvent
from alertrouter_shared.kafka import (
    Record,
    discard_producer,
    ensure_project_topics,
    kafka_reachable,
    make_producer,
    send_batched,
)
from alertrouter_shared.logging import get_logger
from alertrouter_shared.topics import ALERTS, alert_key

log = get_logger(__name__)

# aiokafka refuses records over max_request_size (1 MiB by default); stay clearly under it.
MAX_RECORD_BYTES = 1_000_000
# One transaction carries at most this much; a single request (bounded far lower by its own limits) is never split.
MAX_TRANSACTION_BYTES = 32 * 1024 * 1024
# How long a failed transaction may take to abort before its producer is discarded instead.
ABORT_GRACE_SECONDS = 2.0


class RecordTooLarge(ValueError):
    """A normalised event cannot be a Kafka record; retrying cannot help."""

    def __init__(self, index: int, size: int) -> None:
        super().__init__(f"event {index} is {size} bytes once normalised, over the {MAX_RECORD_BYTES} byte limit")
        self.index = index
        self.size = size


def event_records(events: Sequence[AlertEvent]) -> list[Record]:
    """Serialise events for the alerts topic (key = dedup key), refusing any record Kafka would refuse."""
    records: list[Record] = []
    for index, event in enumerate(events):
        value = event.model_dump_json().encode()
        if len(value) > MAX_RECORD_BYTES:
            raise RecordTooLarge(index, len(value))
        records.append((ALERTS, alert_key(event), value))
    return records


def default_transactional_id_prefix() -> str:
    """Stable per pod and process: a restarted single-process pod reuses its ids and fences its old self."""
    return f"alertrouter-ingest-{socket.gethostname()}-{os.getpid()}"


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

    def fail_all(self, reason: str) -> None:
        while self._items:
            request = self._items.popleft()
            if not request.outcome.done():
                request.outcome.set_exception(TransientError(reason))


class Publisher:
    """Accepts requests' records and answers each once Kafka stored them (acknowledged or committed) or not."""

    def __init__(self, settings: IngestSettings) -> None:
        self._settings = settings
        self._timeout = settings.produce_timeout_seconds
        prefix = settings.kafka_transactional_id_prefix or default_transactional_id_prefix()
        self._committers = [Committer(self, f"{prefix}-{slot}") for slot in range(settings.kafka_producers)]
        self._single = SingleRecordSender(self)
        self.queue = RequestQueue()
        self._available = True
        self._stopping = False
        self._last_failure = float("-inf")
        self._probe_result: tuple[float, bool] = (float("-inf"), False)
        self._probe_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self.connection_changed = asyncio.Event()

    @property
    def settings(self) -> IngestSettings:
        return self._settings

    # ------------------------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start in the background: the HTTP server comes up (and answers 503) even while Kafka is down."""
        self._spawn(self._run_committers())

    async def _run_committers(self) -> None:
        await asyncio.gather(self._single.run(), *(committer.run() for committer in self._committers))

    async def wait_connected(self, timeout: float) -> None:
        """For callers that must not start before Kafka is usable (tests, benchmarks)."""
        async with asyncio.timeout(timeout):
            while not self.connected:
                self.connection_changed.clear()
                await self.connection_changed.wait()

    async def stop(self) -> None:
        """Refuse new requests, let the ones waiting finish within their deadlines, then close the producers."""
        self._stopping = True
        deadline = asyncio.get_running_loop().time() + self._timeout + ABORT_GRACE_SECONDS
        while any(c.busy for c in self._committers) or len(self.queue) or self._single.in_flight:
            if asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.02)
        self.queue.fail_all("ingest is shutting down")
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await asyncio.gather(self._single.close(), *(committer.close() for committer in self._committers))

    @property
    def connected(self) -> bool:
        return self._single.producer is not None and any(c.producer is not None for c in self._committers)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------------------------------ publishing

    async def publish(self, records: Sequence[Record]) -> None:
        """Return once Kafka stored every one of ``records`` (acknowledged or committed); else raise TransientError."""
        if not records:
            return
        if self._stopping:
            raise TransientError("ingest is shutting down")
        if not self.connected:
            raise TransientError("the Kafka producer is not connected yet")
        if not self._available:
            raise TransientError("Kafka is unavailable (waiting for the broker to come back)")
        if len(records) == 1:
            await self._single.send(records[0], self._timeout)
            return
        loop = asyncio.get_running_loop()
        request = PendingRequest(records, loop.time() + self._timeout, loop.create_future())
        self.queue.put(request)
        try:
            await asyncio.wait_for(asyncio.shield(request.outcome), self._timeout)
        except TimeoutError:
            if not request.taken:  # still queued: drop it, nothing of it will ever be produced
                request.outcome.cancel()
                self.mark_failed()
                raise TransientError(f"no Kafka producer was free within {self._timeout}s") from None
            await request.outcome  # its transaction ends (commit or abort) at this same deadline
        except asyncio.CancelledError:
            if not request.taken:
                request.outcome.cancel()
            raise

    def mark_failed(self) -> None:
        KAFKA_FAILURES.inc()
        self._last_failure = time.monotonic()
        if self._available:
            self._available = False
            log.warning("kafka_unavailable", timeout=self._timeout)
            self._spawn(self._wait_for_broker())

    async def _wait_for_broker(self) -> None:
        while not await kafka_reachable(self._settings.kafka_bootstrap_servers, timeout=2.0):  # noqa: ASYNC110
            await asyncio.sleep(1.0)  # a probe loop: nothing in-process can signal the broker's return
        self._available = True
        log.info("kafka_available_again")

    # ------------------------------------------------------------------------------------------ readiness

    async def ready(self) -> tuple[bool, str]:
        """Readiness: producers connected, no request refused for Kafka in the window, and a real metadata probe."""
        if not self.connected:
            return False, "the Kafka producer is not connected"
        recently_failed = time.monotonic() - self._last_failure < self._settings.readiness_failure_window_seconds
        if not self._available or recently_failed:
            return False, "Kafka did not store a recent request"
        if not await self._probe():
            return False, "Kafka is not reachable"
        return True, "ok"

    async def _probe(self) -> bool:
        """A real broker round trip, cached briefly so frequent probes do not hammer the broker."""
        async with self._probe_lock:
            at, result = self._probe_result
            if time.monotonic() - at < self._settings.readiness_cache_seconds:
                return result
            result = await kafka_reachable(self._settings.kafka_bootstrap_servers, timeout=2.0)
            self._probe_result = (time.monotonic(), result)
            return result


class Committer:
    """One transactional producer: takes a group of requests, commits them in one transaction, answers them."""

    def __init__(self, publisher: Publisher, transactional_id: str) -> None:
        self._publisher = publisher
        self.transactional_id = transactional_id
        self.producer: AIOKafkaProducer | None = None
        self.busy = False

    async def run(self) -> None:
        while True:
            producer = await self._connect()
            self.producer = producer
            self._publisher.connection_changed.set()
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
        settings = self._publisher.settings

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
            group = await self._publisher.queue.take()
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
                await send_batched(producer, [record for request in group for record in request.records])
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
        self._publisher.mark_failed()

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


async def connect(
    settings: IngestSettings,
    make: Callable[[], AIOKafkaProducer],
    prepare: Callable[[AIOKafkaProducer], Awaitable[None]] | None,
    name: str,
) -> AIOKafkaProducer:
    """Create the project's topics (when enabled) and start a producer, retrying with backoff until it works."""
    delay = 0.5
    while True:
        producer = make()
        try:
            async with asyncio.timeout(settings.produce_timeout_seconds + 10):
                await ensure_project_topics(settings)
                await producer.start()
                if prepare is not None:
                    await prepare(producer)
        except Exception as exc:
            log.warning("kafka_producer_start_failed", producer=name, error=repr(exc), retry_in=delay)
            await discard_producer(producer, ABORT_GRACE_SECONDS)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
            continue
        log.info("kafka_producer_started", producer=name)
        return producer


class SingleRecordSender:
    """The idempotent producer for one-record requests; replaced after a failure so it drops what it still holds."""

    def __init__(self, publisher: Publisher) -> None:
        self._publisher = publisher
        self.producer: AIOKafkaProducer | None = None
        self.in_flight = 0
        self._broken = asyncio.Event()

    async def run(self) -> None:
        settings = self._publisher.settings
        while True:
            producer = await connect(
                settings, lambda: make_producer(settings, linger_ms=settings.kafka_linger_ms), None, "single-record"
            )
            self._broken.clear()
            self.producer = producer
            self._publisher.connection_changed.set()
            try:
                await self._broken.wait()
            finally:
                self.producer = None
                await discard_producer(producer, ABORT_GRACE_SECONDS)

    async def close(self) -> None:
        if self.producer is not None:
            producer, self.producer = self.producer, None
            await discard_producer(producer, ABORT_GRACE_SECONDS)

    async def send(self, record: Record, timeout: float) -> None:
        producer = self.producer
        if producer is None:
            raise TransientError("the Kafka producer is not connected yet")
        topic, key, value = record
        self.in_flight += 1
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout):
                delivered = await producer.send(topic, value=value, key=key)
                await delivered
        except (TimeoutError, KafkaError) as exc:
            self._broken.set()  # a record still queued must not be delivered after its request was refused
            self._publisher.mark_failed()
            raise TransientError(f"Kafka did not acknowledge the record: {exc!r}") from exc
        finally:
            self.in_flight -= 1
        PRODUCE_SECONDS.observe(time.perf_counter() - started)
