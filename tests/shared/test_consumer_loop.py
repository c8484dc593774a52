"""The shared consumer loop on a real broker: commit only after success, retry transient failures, drain on stop."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from prometheus_client import REGISTRY

from alertrouter_shared.consumer_loop import ConsumerLoop, ConsumerOptions, make_consumer
from alertrouter_shared.errors import TransientError
from alertrouter_shared.kafka import ensure_topics
from alertrouter_shared.settings import CommonSettings
from alertrouter_shared.topics import TopicSpec
from tests.helpers import eventually


async def _topic(bootstrap: str) -> str:
    name = f"test.loop.{uuid.uuid4().hex[:8]}"
    await ensure_topics(CommonSettings(kafka_bootstrap_servers=bootstrap), [TopicSpec(name, 1, 1)])
    return name


async def _produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value)
    finally:
        await producer.stop()


async def _committed(bootstrap: str, group: str, topic: str) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        return await consumer.committed(TopicPartition(topic, 0))  # type: ignore[no-any-return]
    finally:
        await consumer.stop()


def _loop(bootstrap: str, topic: str, handler: object, group: str = "", **options: object) -> ConsumerLoop:
    """A loop in a new consumer group, or in ``group`` (a restarted consumer picks up from its commits)."""
    settings = CommonSettings(kafka_bootstrap_servers=bootstrap)  # type: ignore[call-arg]
    group = group or f"g-{uuid.uuid4().hex[:8]}"
    opts = ConsumerOptions(group_id=group, topics=[topic], backoff_initial=0.01, **options)  # type: ignore[arg-type]
    return ConsumerLoop(make_consumer(settings, opts), handler, opts)  # type: ignore[arg-type]


async def test_transient_failure_is_retried_and_offsets_commit_after_success(kafka_bootstrap: str) -> None:
    topic = await _topic(kafka_bootstrap)
    await _produce(kafka_bootstrap, topic, [b"a", b"b", b"c"])
    seen: list[bytes] = []
    failures = {"left": 2}

    async def handler(records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        if failures["left"] > 0:
            failures["left"] -= 1
            raise TransientError("database briefly down")
        seen.extend(r.value or b"" for r in records)

    loop = _loop(kafka_bootstrap, topic, handler)
    task = asyncio.create_task(loop.run())
    await eventually(lambda: _done(seen, 3), what="all three records handled")
    assert seen == [b"a", b"b", b"c"]
    await eventually(lambda: _offset_is(kafka_bootstrap, loop.options.group_id, topic, 3), what="offset 3 committed")
    loop.stop()
    await asyncio.wait_for(task, 20)


async def test_nothing_is_committed_when_the_handler_keeps_failing(kafka_bootstrap: str) -> None:
    topic = await _topic(kafka_bootstrap)
    await _produce(kafka_bootstrap, topic, [b"x"])
    attempts: list[int] = []

    async def handler(records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        attempts.append(len(records))
        raise TransientError("still down")

    loop = _loop(kafka_bootstrap, topic, handler, max_attempts=2)
    task = asyncio.create_task(loop.run())
    await eventually(lambda: _done(attempts, 4), what="the batch retried after a rewind")
    loop.stop()
    await asyncio.wait_for(task, 20)
    assert await _committed(kafka_bootstrap, loop.options.group_id, topic) is None
    # A new consumer of the same group gets the record again: nothing was skipped.
    assert await _read_again(kafka_bootstrap, topic, loop.options.group_id, 1) == [b"x"]


async def test_stop_drains_the_batch_in_hand(kafka_bootstrap: str) -> None:
    topic = await _topic(kafka_bootstrap)
    await _produce(kafka_bootstrap, topic, [b"slow"])
    started = asyncio.Event()
    release = asyncio.Event()
    finished: list[bytes] = []

    async def handler(records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        started.set()
        await release.wait()
        finished.extend(r.value or b"" for r in records)

    loop = _loop(kafka_bootstrap, topic, handler)
    task = asyncio.create_task(loop.run())
    await asyncio.wait_for(started.wait(), 30)
    loop.stop()  # SIGTERM arrives while the batch is being handled
    release.set()
    await asyncio.wait_for(task, 20)
    assert finished == [b"slow"]
    assert await _committed(kafka_bootstrap, loop.options.group_id, topic) == 1


async def test_batches_handled_since_the_last_commit_are_redelivered_after_a_crash(kafka_bootstrap: str) -> None:
    """Offsets wait up to ``commit_interval`` to be committed together; a crash in that time loses nothing."""
    topic = await _topic(kafka_bootstrap)
    await _produce(kafka_bootstrap, topic, [b"one", b"two"])
    handled: list[bytes] = []
    task: asyncio.Task[None] | None = None

    async def crash_on_two(records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        values = [r.value or b"" for r in records]
        if b"two" in values:
            assert task is not None
            task.cancel()  # the process dies mid-batch: no stop(), no drain, no commit
            await asyncio.Event().wait()
        handled.extend(values)

    loop = _loop(kafka_bootstrap, topic, crash_on_two, max_records=1, commit_interval=60.0)
    task = asyncio.create_task(loop.run())
    await asyncio.wait({task}, timeout=30)
    assert task.cancelled()
    assert handled == [b"one"]  # finished, but its offset was still waiting for the commit
    assert await _committed(kafka_bootstrap, loop.options.group_id, topic) is None

    assert await _read_again(kafka_bootstrap, topic, loop.options.group_id, 2) == [b"one", b"two"]
    assert await _committed(kafka_bootstrap, loop.options.group_id, topic) == 2


async def _read_again(bootstrap: str, topic: str, group: str, count: int) -> list[bytes]:
    """What a restarted consumer of ``group`` is handed (stopped cleanly once it has ``count``: it commits)."""
    redelivered: list[bytes] = []

    async def accept(records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        redelivered.extend(r.value or b"" for r in records)

    again = _loop(bootstrap, topic, accept, group=group)
    task = asyncio.create_task(again.run())
    await eventually(lambda: _done(redelivered, count), what=f"{count} redelivered record(s)")
    again.stop()
    await asyncio.wait_for(task, 20)
    return redelivered


async def _done(items: Sequence[object], n: int) -> bool:
    return len(items) >= n


async def _offset_is(bootstrap: str, group: str, topic: str, offset: int) -> bool:
    return await _committed(bootstrap, group, topic) == offset


async def test_aborted_records_are_never_handed_out_and_commits_reach_the_end(kafka_bootstrap: str) -> None:
    """read_committed: an aborted transaction (a request ingest refused) is skipped; the committed offset still
    reaches the end of the partition, past the transaction markers, so the lag can be zero."""
    topic = await _topic(kafka_bootstrap)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=f"t-{uuid.uuid4().hex[:8]}")
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send(topic, b"committed-1")
        await producer.begin_transaction()
        await producer.send(topic, b"refused")
        await producer.abort_transaction()
        async with producer.transaction():
            await producer.send(topic, b"committed-2")
    finally:
        await producer.stop()
    seen: list[bytes] = []

    async def handler(records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        seen.extend(r.value or b"" for r in records)

    loop = _loop(kafka_bootstrap, topic, handler)
    task = asyncio.create_task(loop.run())
    # offsets: committed-1, marker, refused, marker, committed-2, marker -> the end is 6
    await eventually(lambda: _offset_is(kafka_bootstrap, loop.options.group_id, topic, 6), what="offset 6 committed")
    loop.stop()
    await asyncio.wait_for(task, 20)
    assert seen == [b"committed-1", b"committed-2"]


def _lag_sample(group: str, topic: str, partition: int) -> float | None:
    labels = {"group": group, "topic": topic, "partition": str(partition)}
    return REGISTRY.get_sample_value("alertrouter_consumer_lag_records", labels)


async def test_the_lag_of_a_partition_lost_in_a_rebalance_is_no_longer_reported(kafka_bootstrap: str) -> None:
    """Each pod exports the lag of the partitions it holds. A partition handed to another pod in a rebalance kept
    its last value in the pod that lost it, so ``max`` over the pods (AlertrouterConsumerLagHigh) went on firing
    after the new owner had drained the backlog. The other member here is a plain consumer: in production it is
    another pod, with a registry of its own."""
    topic = f"test.loop.{uuid.uuid4().hex[:8]}"
    await ensure_topics(CommonSettings(kafka_bootstrap_servers=kafka_bootstrap), [TopicSpec(topic, 2, 1)])
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for partition in (0, 1):
            await producer.send_and_wait(topic, b"x", partition=partition)
    finally:
        await producer.stop()

    async def accept(records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        return None

    loop = _loop(kafka_bootstrap, topic, accept)
    group = loop.options.group_id
    task = asyncio.create_task(loop.run())

    async def both_reported() -> bool:
        return all(_lag_sample(group, topic, p) is not None for p in (0, 1))

    await eventually(both_reported, what="the lag of both partitions reported by the only member")
    other = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False, session_timeout_ms=10_000
    )
    await other.start()
    polling = asyncio.create_task(_keep_polling(other))
    try:

        async def one_left() -> set[int] | None:
            if len(other.assignment()) != 1 or len(loop.consumer.assignment()) != 1:
                return None
            reported = {p for p in (0, 1) if _lag_sample(group, topic, p) is not None}
            kept = {tp.partition for tp in loop.consumer.assignment()}
            return reported if reported == kept else None

        await eventually(one_left, timeout=40, what="only the partition the loop kept still reported")
    finally:
        polling.cancel()
        await asyncio.gather(polling, return_exceptions=True)
        await other.stop()
    loop.stop()
    await asyncio.wait_for(task, 20)
    assert [_lag_sample(group, topic, p) for p in (0, 1)] == [None, None], "a stopped loop reports nothing"


async def _keep_polling(consumer: AIOKafkaConsumer) -> None:
    while True:
        await consumer.getmany(timeout_ms=200)


async def test_stop_finishes_while_a_fetch_waits_out_its_retry_backoff(
    kafka_bootstrap: str, caplog: pytest.LogCaptureFixture
) -> None:
    """aiokafka's stop() raised CancelledError when one of its fetches was waiting out its retry backoff (after a
    broker error or a request that timed out): the loop's run() ended with it, and the service's shutdown stopped
    there. Here a fetch request times out because the event loop is frozen past the request timeout (as a stalled
    process would be), and its retry backoff is long enough to still be running when the loop is stopped."""
    topic = await _topic(kafka_bootstrap)
    opts = ConsumerOptions(group_id=f"g-{uuid.uuid4().hex[:8]}", topics=[topic])
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=opts.group_id,
        enable_auto_commit=False,
        fetch_max_wait_ms=300,  # the broker holds each fetch of the empty topic this long
        request_timeout_ms=5_000,  # above the group join's wait (the broker's initial rebalance delay)
        retry_backoff_ms=10_000,  # the failed fetch's backoff: still running when the loop stops just after
    )

    async def handler(records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        raise AssertionError("the topic is empty")

    loop = ConsumerLoop(consumer, handler, opts)
    task = asyncio.create_task(loop.run())
    await eventually(lambda: _assigned(consumer), timeout=60, what="the partition assigned")

    async def fetch_failed() -> bool:
        time.sleep(6.0)  # freeze the event loop past the fetch in flight's request timeout (fault injection)
        await asyncio.sleep(0.2)  # let the loop run the timeout it finds expired
        return any("Failed fetch messages" in r.getMessage() for r in caplog.records)

    with caplog.at_level(logging.ERROR, logger="aiokafka.consumer.fetcher"):
        await eventually(fetch_failed, timeout=30, interval=0, what="a fetch timed out, its retry backoff running")
    loop.stop()
    await asyncio.wait_for(task, 20)  # raised CancelledError before
    assert not loop.running
    connections = consumer._client._conns.values()  # the stop aiokafka cut short left them open
    assert connections and not any(conn.connected() for conn in connections)


async def _assigned(consumer: AIOKafkaConsumer) -> bool:
    return bool(consumer.assignment())
