"""Producers for ingest: how they are started (again and again, after failures) and the one-record lane.

A request of one record is atomic by itself, so it skips the transaction: an idempotent producer stores it
(acks=all). After a failure that producer is replaced, so a record still queued at its deadline is dropped rather
than delivered long after its request was refused (its flush may still store it within ABORT_GRACE_SECONDS).
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaProducer

from alertrouter_ingest.broker_health import BrokerHealth
from alertrouter_ingest.metrics import PRODUCE_SECONDS
from alertrouter_ingest.settings import IngestSettings
from alertrouter_shared.errors import TransientError
from alertrouter_shared.kafka import Record, discard_producer, ensure_project_topics, make_producer, produce_all
from alertrouter_shared.logging import get_logger

log = get_logger(__name__)

# How long a failed producer may take to abort or flush before it is closed without waiting.
ABORT_GRACE_SECONDS = 2.0


def default_transactional_id_prefix() -> str:
    """Stable per pod and process: a restarted single-process pod reuses its ids and fences its old self."""
    return f"alertrouter-ingest-{socket.gethostname()}-{os.getpid()}"


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


def _single_record_producer(settings: IngestSettings) -> AIOKafkaProducer:
    """Uncompressed: its batches are mostly a single record, which lz4 shrinks only by a third (a 1 kB alert event to
    0.7 kB) for about 10 us of ingest's CPU per request, 3 % of it; the router then decompresses it again. The
    transactions of several-record requests keep lz4."""
    return make_producer(settings, linger_ms=settings.kafka_linger_ms, compression_type=None)


class SingleRecordSender:
    """The idempotent producer for one-record requests; replaced after a failure so it drops what it still holds."""

    def __init__(self, settings: IngestSettings, health: BrokerHealth) -> None:
        self._settings = settings
        self._health = health
        self.producer: AIOKafkaProducer | None = None
        self.in_flight = 0
        self._broken = asyncio.Event()

    async def run(self) -> None:
        settings = self._settings
        while True:
            producer = await connect(settings, lambda: _single_record_producer(settings), None, "single-record")
            self._broken.clear()
            self.producer = producer
            self._health.connection_changed.set()
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
        self.in_flight += 1
        started = time.perf_counter()
        try:
            await produce_all(producer, [record], timeout)
        except TransientError:
            self._broken.set()  # a record still queued must not be delivered after its request was refused
            self._health.mark_failed()
            raise
        finally:
            self.in_flight -= 1
        PRODUCE_SECONDS.observe(time.perf_counter() - started)
