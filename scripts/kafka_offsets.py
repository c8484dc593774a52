"""Start a consumer group at the end of the alerts topic, for the benchmark's phases and the router test suite.

Both share one broker with load that is not theirs (the intake phases' alerts, other suites' property tests);
committing the group's offsets at the end makes the router start from what comes next.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from alertrouter_shared.topics import ALERTS


async def skip_alert_backlog(bootstrap: str, group: str = "router") -> int:
    """Commit the router group's offsets at the end of the alerts topic: the intake phases' records are skipped.

    Returns how many records were skipped. Nothing to do when ingest never created the topic.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([ALERTS])
    finally:
        await admin.close()
    partitions = [p["partition"] for t in described if t.get("error_code", 0) == 0 for p in t["partitions"]]
    if not partitions:
        return 0
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(ALERTS, p) for p in sorted(partitions)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        await consumer.commit({tp: ends[tp] for tp in tps})
        return int(sum(ends.values()))
    finally:
        await consumer.stop()
