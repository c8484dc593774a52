"""At-least-once consumption: offsets are committed only after the handler has finished a batch.

A handler receives everything one poll returned, across partitions, in partition order (so per-key order is
kept): one transaction per poll, instead of one per partition, keeps the fixed cost per batch low when traffic is
spread thin over many partitions. The offsets of finished batches are committed together, at most
``commit_interval`` after the first of them (at once on an idle poll and when stopping): at low rates every
record is its own batch, and a commit per batch was a broker round trip, and a write of the broker's offsets log,
per record. Handlers must be idempotent anyway: a crash or a rebalance redelivers what was handled since the
last commit (up to ``commit_interval`` of records). Transient failures are retried with backoff, without
committing; after ``max_attempts`` the partitions are rewound to the first uncommitted records so nothing is
skipped.
SIGTERM stops polling, lets the batch in hand finish and commit, then leaves the group cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from alertrouter_shared.errors import TransientError
from alertrouter_shared.kafka_security import kafka_client_options
from alertrouter_shared.logging import get_logger
from alertrouter_shared.metrics import CONSUMER_BATCHES, CONSUMER_FAILURES, CONSUMER_LAG
from alertrouter_shared.settings import CommonSettings

log = get_logger(__name__)

BatchHandler = Callable[[Sequence[ConsumerRecord[bytes, bytes]]], Awaitable[None]]


@dataclass
class ConsumerOptions:
    group_id: str
    topics: list[str]
    max_records: int = 500
    max_attempts: int = 5
    backoff_initial: float = 0.2
    backoff_max: float = 5.0
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 1_000
    max_poll_interval_ms: int = 300_000
    group_instance_id: str | None = None
    commit_interval: float = 0.5


def make_consumer(settings: CommonSettings, options: ConsumerOptions) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *options.topics,
        **kafka_client_options(settings),
        group_id=options.group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=options.session_timeout_ms,
        heartbeat_interval_ms=options.heartbeat_interval_ms,
        max_poll_interval_ms=options.max_poll_interval_ms,
        fetch_max_wait_ms=100,
        isolation_level="read_committed",  # a request ingest answered 503 for stays invisible (aborted)
    )


class ConsumerLoop:
    """Polls, hands each partition batch to the handler, commits after success; stop() drains."""

    def __init__(self, consumer: AIOKafkaConsumer, handler: BatchHandler, options: ConsumerOptions) -> None:
        self.consumer = consumer
        self.handler = handler
        self.options = options
        self._stopping = asyncio.Event()
        self.running = False
        self._committed: dict[TopicPartition, int] = {}
        self._handled: dict[TopicPartition, int] = {}  # offsets of finished batches, not committed yet
        self._handled_since: float | None = None
        self._lag_reported: set[TopicPartition] = set()  # partitions whose lag this loop exports

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        await self.consumer.start()
        self.running = True
        log.info("consumer_started", group=self.options.group_id, topics=self.options.topics)
        try:
            while not self._stopping.is_set():
                batches = await self.consumer.getmany(timeout_ms=200, max_records=self.options.max_records)
                batches = {tp: records for tp, records in batches.items() if records}
                if batches:
                    await self._handle_poll(batches)
                    await self._commit_handled(due_only=True)
                else:
                    await self._commit_skipped_offsets()
                await self._record_lag()
            await self._commit_handled(due_only=False)
        finally:
            self.running = False
            self._forget_lag(set(self._lag_reported))
            await stop_consumer(self.consumer)
            log.info("consumer_stopped", group=self.options.group_id)

    async def _handle_poll(self, batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> None:
        records = [record for batch in batches.values() for record in batch]
        delay = self.options.backoff_initial
        for attempt in range(1, self.options.max_attempts + 1):
            try:
                await self.handler(records)
            except TransientError as exc:
                CONSUMER_FAILURES.labels(self.options.group_id, "transient").inc()
                log.warning("batch_retry", records=len(records), attempt=attempt, error=str(exc))
                if attempt == self.options.max_attempts or self._stopping.is_set():
                    self._rewind(batches)
                    return
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, self.options.backoff_max)
                continue
            except Exception:
                CONSUMER_FAILURES.labels(self.options.group_id, "unexpected").inc()
                log.exception("batch_failed", records=len(records))
                self._rewind(batches)
                await asyncio.sleep(self.options.backoff_max)
                return
            self._handled.update({tp: batch[-1].offset + 1 for tp, batch in batches.items()})
            if self._handled_since is None:
                self._handled_since = asyncio.get_running_loop().time()
            CONSUMER_BATCHES.labels(self.options.group_id).inc()
            return

    async def _commit_handled(self, *, due_only: bool) -> None:
        """Commit the finished batches' offsets: when the oldest has waited ``commit_interval``, or now."""
        if self._handled_since is None:
            return
        if due_only and asyncio.get_running_loop().time() - self._handled_since < self.options.commit_interval:
            return
        handled, self._handled, self._handled_since = self._handled, {}, None
        assigned = self.consumer.assignment()
        await self._commit({tp: offset for tp, offset in handled.items() if tp in assigned})

    def _rewind(self, batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> None:
        for tp, batch in batches.items():
            # A partition no longer assigned needs no rewind: its new owner starts from the last commit.
            with contextlib.suppress(IllegalStateError):
                self.consumer.seek(tp, batch[0].offset)

    async def _commit_skipped_offsets(self) -> None:
        """On an idle poll, commit positions that moved past records never handed out.

        Transaction markers and aborted transactions (ingest's refused requests) occupy offsets without giving a
        record; without this the committed offset would stay one short of the end and the lag never reach zero.
        Everything below a position has been handled (a failed batch rewinds the position), so it is safe.
        """
        await self._commit_handled(due_only=False)
        moved: dict[TopicPartition, int] = {}
        for tp in self.consumer.assignment():
            try:
                position = await self.consumer.position(tp)
                if tp not in self._committed:
                    self._committed[tp] = await self.consumer.committed(tp) or 0
            except (IllegalStateError, KafkaError):
                continue
            if position > self._committed[tp]:
                moved[tp] = position
        if moved:
            await self._commit(moved)

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        if not offsets:
            return
        try:
            await self.consumer.commit(offsets)
            self._committed.update(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # The group rebalanced: the new owner redelivers from the last commit; handlers are idempotent.
            log.warning("commit_failed_rebalance", partitions=len(offsets), error=str(exc))
        except KafkaError as exc:
            log.warning("commit_failed", partitions=len(offsets), error=str(exc))

    async def _record_lag(self) -> None:
        """Export the lag of the partitions assigned now, and drop the ones no longer assigned: a partition lost in a
        rebalance kept its last value here, and ``max`` over the pods (AlertrouterConsumerLagHigh) kept firing on a
        backlog its new owner had long drained."""
        assigned = self.consumer.assignment()
        self._forget_lag(self._lag_reported - assigned)
        for tp in assigned:
            highwater = self.consumer.highwater(tp)
            if highwater is None:
                continue
            try:
                position = await self.consumer.position(tp)
            except (IllegalStateError, KafkaError):
                continue
            CONSUMER_LAG.labels(self.options.group_id, tp.topic, str(tp.partition)).set(max(0, highwater - position))
            self._lag_reported.add(tp)

    def _forget_lag(self, partitions: set[TopicPartition]) -> None:
        for tp in partitions:
            with contextlib.suppress(KeyError):
                CONSUMER_LAG.remove(self.options.group_id, tp.topic, str(tp.partition))
            self._lag_reported.discard(tp)


async def stop_consumer(consumer: AIOKafkaConsumer) -> None:
    """``consumer.stop()``, without the CancelledError aiokafka raises out of it when a fetch was waiting out its
    retry backoff (after a broker error or a request that timed out): its stop awaits the fetch tasks it has just
    cancelled itself. Propagated, that ended a service's shutdown halfway -- the notifier then skipped draining the
    sends in progress, whose pages were sent again once their leases ran out. A cancellation of the caller itself
    still propagates. The stop it cut short never closed the connections: closed here directly, as
    ``discard_producer`` does for a producer (aiokafka 0.14 has no public way)."""
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        log.warning("consumer_stop_interrupted_a_fetch_retry")
        with contextlib.suppress(Exception):
            await consumer._client.close()
