"""What Kafka itself says: a consumer group's committed lag and how many records a topic holds.

Why not only the services' metrics: the router's decision counter does not count events it dead-letters, so
"every event handled" is best read from the group's committed offsets (a dead-lettered event is committed
too), and the dead-letter topics' sizes show what was given up on.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from alertrouter_shared.topics import ALERTS, ALERTS_DLQ, DELIVERIES_DLQ, PAGES_DLQ

DEAD_LETTER_TOPICS = (ALERTS_DLQ, PAGES_DLQ, DELIVERIES_DLQ)


async def _partitions(bootstrap: str, topics: list[str]) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return [
        TopicPartition(t["topic"], p["partition"])
        for t in described
        if t.get("error_code", 0) == 0
        for p in t["partitions"]
    ]


async def end_offsets(bootstrap: str, topics: list[str]) -> dict[TopicPartition, int]:
    partitions = await _partitions(bootstrap, topics)
    if not partitions:
        return {}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        return {tp: int(offset) for tp, offset in (await consumer.end_offsets(partitions)).items()}
    finally:
        await consumer.stop()


async def topic_records(bootstrap: str, topics: tuple[str, ...] = DEAD_LETTER_TOPICS) -> dict[str, int]:
    """Records each topic holds (the sum of its partitions' end offsets; nothing is compacted or expired here)."""
    totals = dict.fromkeys(topics, 0)
    for tp, offset in (await end_offsets(bootstrap, list(topics))).items():
        totals[tp.topic] += offset
    return totals


async def committed_lag(bootstrap: str, group: str = "router", topic: str = ALERTS) -> int:
    """Records of ``topic`` the group has not committed yet: handled (decided or dead-lettered) means committed."""
    ends = await end_offsets(bootstrap, [topic])
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group, partitions=list(ends))
    finally:
        await admin.close()
    lag = 0
    for tp, end in ends.items():
        meta = committed.get(tp)
        position = meta.offset if meta is not None and meta.offset >= 0 else 0
        lag += max(0, end - position)
    return lag
