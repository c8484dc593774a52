"""The Kafka helpers ingest relies on: Java-compatible partitioning and whole batches per partition."""

from __future__ import annotations

import random
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as reference

from alertrouter_shared.kafka import ensure_topics, key_partition, murmur2, send_batched
from alertrouter_shared.settings import CommonSettings
from alertrouter_shared.topics import TopicSpec
from tests.helpers import eventually


def test_murmur2_and_partitions_match_aiokafkas_default_partitioner() -> None:
    """Ingest picks partitions itself (whole batches per partition); any other client must agree, per key."""
    rng = random.Random(7)
    for _ in range(3000):
        key = rng.randbytes(rng.randint(1, 80))
        assert murmur2(key) == reference(key)
        for partitions in (1, 3, 6, 12):
            expected = DefaultPartitioner()(key, list(range(partitions)), list(range(partitions)))
            assert key_partition(key, partitions) == expected


async def test_send_batched_splits_full_batches_and_keeps_per_key_order(kafka_bootstrap: str) -> None:
    """Records larger than a batch's room start new batches; everything lands, in order, where the key says."""
    topic = f"test.batched.{uuid.uuid4().hex[:8]}"
    await ensure_topics(CommonSettings(kafka_bootstrap_servers=kafka_bootstrap), [TopicSpec(topic, 3, 1)])
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, transactional_id=f"t-{uuid.uuid4().hex[:8]}", max_batch_size=256 * 1024
    )
    await producer.start()
    records = [(topic, b"same-key", bytes([n]) * 600_000) for n in range(3)]
    records += [(topic, f"k{n}".encode(), b"small") for n in range(50)]
    try:
        async with producer.transaction():
            futures = await send_batched(producer, records)
        assert len(futures) >= 3
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest", isolation_level="read_committed"
    )
    await consumer.start()
    got: list[tuple[int, bytes, bytes]] = []
    try:

        async def all_read() -> bool:
            batches = await consumer.getmany(timeout_ms=500)
            got.extend((r.partition, r.key or b"", r.value or b"") for rs in batches.values() for r in rs)
            return len(got) >= len(records)

        await eventually(all_read, what="every batched record")
    finally:
        await consumer.stop()
    assert len(got) == len(records)
    assert all(partition == key_partition(key, 3) for partition, key, _ in got)
    assert [value[0] for _, key, value in got if key == b"same-key"] == [0, 1, 2]
