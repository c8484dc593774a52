"""The only way alerts leave ingest: one request's events as one Kafka batch, acknowledged or refused as a whole.

A sender gets 2xx only after the broker acknowledged every record (acks=all). When Kafka does not answer within
the deadline the request fails with TransientError (the API turns it into 503 + Retry-After); the publisher then
refuses new batches at once, without queueing them, until a background probe sees the broker again. Records
already queued when the deadline passed may still be delivered later: at-least-once, and the router
deduplicates the sender's retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Coroutine, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer

from alertrouter_ingest.metrics import KAFKA_FAILURES, PRODUCE_SECONDS
from alertrouter_shared.errors import TransientError
from alertrouter_shared.events import AlertEvent
from alertrouter_shared.kafka import Record, ensure_project_topics, kafka_reachable, make_producer, produce_all
from alertrouter_shared.logging import get_logger
from alertrouter_shared.settings import CommonSettings
from alertrouter_shared.topics import ALERTS, alert_key

log = get_logger(__name__)

# aiokafka refuses records over max_request_size (1 MiB by default); stay clearly under it.
MAX_RECORD_BYTES = 1_000_000


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


class Publisher:
    """Owns (or borrows) the producer and knows whether Kafka is currently usable."""

    def __init__(
        self,
        settings: CommonSettings,
        *,
        produce_timeout: float,
        linger_ms: int = 0,
        probe_cache_seconds: float,
        failure_window_seconds: float,
        producer: AIOKafkaProducer | None = None,
    ) -> None:
        self._settings = settings
        self._timeout = produce_timeout
        self._linger_ms = linger_ms
        self._probe_cache_seconds = probe_cache_seconds
        self._failure_window = failure_window_seconds
        self._owns_producer = producer is None
        self._producer: AIOKafkaProducer | None = producer
        self._started = producer is not None
        self._available = True
        self._last_failure = float("-inf")
        self._probe_result: tuple[float, bool] = (float("-inf"), False)
        self._probe_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start in the background: the HTTP server comes up (and answers 503) even while Kafka is down."""
        if self._owns_producer:
            self._spawn(self._start_producer())

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._owns_producer and self._producer is not None and self._started:
            with contextlib.suppress(Exception):
                await self._producer.stop()
        self._started = False

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _start_producer(self) -> None:
        """Create the project's topics (when enabled) and connect, retrying with backoff until it works."""
        delay = 0.5
        while True:
            producer = make_producer(self._settings, linger_ms=self._linger_ms)
            try:
                await ensure_project_topics(self._settings)
                await producer.start()
            except Exception as exc:
                log.warning("kafka_producer_start_failed", error=repr(exc), retry_in=delay)
                with contextlib.suppress(Exception):
                    await producer.stop()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            self._producer = producer
            self._started = True
            log.info("kafka_producer_started", bootstrap=self._settings.kafka_bootstrap_servers)
            return

    # ------------------------------------------------------------------------------------------ publishing

    async def publish(self, records: Sequence[Record]) -> None:
        """Return once Kafka acknowledged every record; raise TransientError otherwise."""
        if not records:
            return
        producer = self._producer
        if producer is None or not self._started:
            raise TransientError("the Kafka producer is not connected yet")
        if not self._available:
            raise TransientError("Kafka is unavailable (waiting for the broker to come back)")
        started = time.perf_counter()
        try:
            await produce_all(producer, records, self._timeout)
        except TransientError:
            self._mark_failed()
            raise
        PRODUCE_SECONDS.observe(time.perf_counter() - started)

    def _mark_failed(self) -> None:
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
        """Readiness: producer connected, no refused batch in the failure window, and a real metadata probe."""
        if not self._started:
            return False, "the Kafka producer is not connected"
        if not self._available or time.monotonic() - self._last_failure < self._failure_window:
            return False, "Kafka did not acknowledge a recent batch"
        if not await self._probe():
            return False, "Kafka is not reachable"
        return True, "ok"

    async def _probe(self) -> bool:
        """A real broker round trip, cached briefly so frequent probes do not hammer the broker."""
        async with self._probe_lock:
            at, result = self._probe_result
            if time.monotonic() - at < self._probe_cache_seconds:
                return result
            result = await kafka_reachable(self._settings.kafka_bootstrap_servers, timeout=2.0)
            self._probe_result = (time.monotonic(), result)
            return result
