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

The one-record lane is in producers.py, the transactions in group_commit.py; both report failures and connections
to broker_health.py rather than to the publisher, so nothing imports back up the chain.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Coroutine, Sequence
from typing import Any

from alertrouter_ingest.broker_health import BrokerHealth
from alertrouter_ingest.group_commit import Committer, PendingRequest, RequestQueue
from alertrouter_ingest.producers import ABORT_GRACE_SECONDS, SingleRecordSender, default_transactional_id_prefix
from alertrouter_ingest.settings import IngestSettings
from alertrouter_shared.errors import TransientError
from alertrouter_shared.kafka import Record, kafka_reachable
from alertrouter_shared.logging import get_logger

log = get_logger(__name__)

# aiokafka refuses records over max_request_size (1 MiB by default); stay clearly under it.
MAX_RECORD_BYTES = 1_000_000


class Publisher:
    """Accepts requests' records and answers each once Kafka stored them (acknowledged or committed) or not."""

    def __init__(self, settings: IngestSettings) -> None:
        self._settings = settings
        self._timeout = settings.produce_timeout_seconds
        prefix = settings.kafka_transactional_id_prefix or default_transactional_id_prefix()
        self._health = BrokerHealth(settings, self._timeout)
        self.queue = RequestQueue()
        self._committers = [
            Committer(settings, self.queue, self._health, f"{prefix}-{slot}")
            for slot in range(settings.kafka_producers)
        ]
        self._single = SingleRecordSender(settings, self._health)
        self._stopping = False
        self._probe_result: tuple[float, bool] = (float("-inf"), False)
        self._probe_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

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
                self._health.connection_changed.clear()
                await self._health.connection_changed.wait()

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
        await self._health.stop()
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
        if not self._health.available:
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
                self.queue.discard(request)
                self._health.mark_failed()
                raise TransientError(f"no Kafka producer was free within {self._timeout}s") from None
            await request.outcome  # its transaction ends (commit or abort) at this same deadline
        except asyncio.CancelledError:
            if not request.taken:
                self.queue.discard(request)
            raise

    # ------------------------------------------------------------------------------------------ readiness

    async def ready(self) -> tuple[bool, str]:
        """Readiness: producers connected, no request refused for Kafka in the window, and a real metadata probe."""
        if not self.connected:
            return False, "the Kafka producer is not connected"
        recently_failed = time.monotonic() - self._health.last_failure < self._settings.readiness_failure_window_seconds
        if not self._health.available or recently_failed:
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
            result = await kafka_reachable(self._settings, timeout=2.0)
            self._probe_result = (time.monotonic(), result)
            return result
