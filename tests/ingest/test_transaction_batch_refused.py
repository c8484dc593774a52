"""A batch Kafka refuses for good inside a group's transaction refuses the whole group (503), never a 2xx.

aiokafka's ``commit_transaction`` waits for the transaction's batches to be answered but not for them to succeed:
a batch the broker refused with an error that is not retried (a record over the topic's ``max.message.bytes``, an
``UNKNOWN_SERVER_ERROR``) was left out and the rest committed, and the requests of the group were answered 2xx
with alerts that are in no topic. Here the refused batch goes to a topic of the test with a small
``max.message.bytes``, beside a record that fits in another topic; read back with ``read_committed`` (what the
router sees), that record is not there either, and the committer's next transaction goes through.
"""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from alertrouter_ingest.broker_health import BrokerHealth
from alertrouter_ingest.group_commit import Committer, PendingRequest, RequestQueue
from alertrouter_shared.errors import TransientError
from alertrouter_shared.kafka import Record
from tests.helpers import eventually
from tests.ingest.conftest import ingest_settings

pytestmark = pytest.mark.kafka


async def make_topics(bootstrap: str, fits: str, tight: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(fits, 1, 1), NewTopic(tight, 1, 1, topic_configs={"max.message.bytes": "1024"})]
        )
    finally:
        await admin.close()


def pending(records: list[Record]) -> PendingRequest:
    loop = asyncio.get_running_loop()
    return PendingRequest(records, loop.time() + 20, loop.create_future())


async def test_a_refused_batch_refuses_its_transactions_requests(kafka_bootstrap: str) -> None:
    unique = uuid.uuid4().hex[:8]
    fits, tight = f"test.txn.fits.{unique}", f"test.txn.tight.{unique}"
    await make_topics(kafka_bootstrap, fits, tight)
    settings = ingest_settings(kafka_bootstrap)
    health = BrokerHealth(settings, settings.produce_timeout_seconds)
    queue = RequestQueue()
    committer = Committer(settings, queue, health, f"test-refused-batch-{unique}")
    running = asyncio.create_task(committer.run())
    try:
        refused = pending([(fits, b"a", b"in the refused request"), (tight, b"b", os.urandom(8000))])
        queue.put(refused)
        with pytest.raises(TransientError):
            await refused.outcome
        accepted = pending([(fits, b"a", b"in the next request")])
        queue.put(accepted)
        await accepted.outcome
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await committer.close()
        await health.stop()
    consumer = AIOKafkaConsumer(
        fits, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest", isolation_level="read_committed"
    )
    await consumer.start()
    seen: list[bytes] = []
    try:

        async def next_request_read() -> bool:
            batches = await consumer.getmany(timeout_ms=500)
            seen.extend(record.value or b"" for records in batches.values() for record in records)
            return b"in the next request" in seen

        await eventually(next_request_read, what="the next request's record")
    finally:
        await consumer.stop()
    assert seen == [b"in the next request"], "the refused request's record was committed"
