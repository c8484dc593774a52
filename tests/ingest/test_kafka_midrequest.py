"""The broker killed while large requests are being produced: every request is in Kafka whole or not at all.

Eight senders post Alertmanager webhooks of 150 alerts each (several Kafka batches per request, over six
partitions) without pause; the only broker is SIGKILLed mid-stream and restarted, and each sender retries a
refused request with the same body until it is accepted, as Alertmanager does. Read back with read_committed
(what the router sees), every request's alerts appear the same number of times each: once, or -- when a commit
reached the broker but its answer did not reach ingest -- twice, never in part.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import local_kafka  # tests/conftest.py puts scripts/ on sys.path
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import REGISTRY

from alertrouter_ingest.app import create_app
from alertrouter_shared.topics import ALERTS
from tests.helpers import eventually, free_port_pair
from tests.ingest.conftest import AM_KEY, fixture_json, ingest_settings, serve

pytestmark = [pytest.mark.kafka, pytest.mark.faults]

SENDERS = 8
REQUESTS_PER_SENDER = 12
ALERTS_PER_REQUEST = 150


def webhook(request_id: str) -> bytes:
    """One Alertmanager group of ALERTS_PER_REQUEST alerts, each labelled with its request and index."""
    body: dict[str, Any] = fixture_json("alertmanager/firing-single.json")
    template = body["alerts"][0]
    alerts = []
    for index in range(ALERTS_PER_REQUEST):
        alert = copy.deepcopy(template)
        alert["labels"].update({"request": request_id, "index": str(index), "padding": "x" * 400})
        alert["fingerprint"] = hashlib.sha256(f"{request_id}/{index}".encode()).hexdigest()[:16]
        alerts.append(alert)
    body["alerts"] = alerts
    return json.dumps(body).encode()


@dataclass
class Outcomes:
    accepted: set[str] = field(default_factory=set)
    refused_in_flight: set[str] = field(default_factory=set)  # started before the kill, answered 503
    refusals: int = 0


async def send_until_accepted(
    client: httpx.AsyncClient, request_id: str, killed: asyncio.Event, outcomes: Outcomes
) -> None:
    body = webhook(request_id)
    while True:
        killed_before = killed.is_set()
        response = await client.post(f"/v1/alertmanager/{AM_KEY}", content=body)
        if response.status_code == 202:
            outcomes.accepted.add(request_id)
            return
        assert response.status_code == 503, response.text
        outcomes.refusals += 1
        if not killed_before and killed.is_set():
            outcomes.refused_in_flight.add(request_id)
        await asyncio.sleep(0.2)  # the sender's retry interval, not synchronisation


async def sender(client: httpx.AsyncClient, number: int, killed: asyncio.Event, outcomes: Outcomes) -> None:
    for n in range(REQUESTS_PER_SENDER):
        await send_until_accepted(client, f"s{number}-r{n}", killed, outcomes)


async def committed_alerts(bootstrap: str) -> dict[str, Counter[str]]:
    """request id -> how many times each alert index is in the topic, read as the router reads (read_committed)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed")
    await consumer.start()
    try:
        partitions = [TopicPartition(ALERTS, p) for p in sorted(consumer.partitions_for_topic(ALERTS) or [])]
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = [TopicPartition(ALERTS, p) for p in sorted(consumer.partitions_for_topic(ALERTS) or [])]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        seen: dict[str, Counter[str]] = defaultdict(Counter)

        async def read_to_end() -> bool:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    labels = json.loads(record.value or b"{}")["labels"]
                    seen[labels["request"]][labels["index"]] += 1
            return all([await consumer.position(tp) >= end for tp, end in ends.items()])

        await eventually(read_to_end, timeout=60, what="the alerts topic read to its last stable offset")
        return seen
    finally:
        await consumer.stop()


async def test_broker_killed_mid_request_leaves_no_partial_request(tmp_path: Path) -> None:
    cluster = local_kafka.LocalKafka(tmp_path / "kafka", nodes=1, base_port=free_port_pair())
    await asyncio.to_thread(cluster.start)
    unknown_before = REGISTRY.get_sample_value("alertrouter_ingest_requests_outcome_unknown_total") or 0
    try:
        settings = ingest_settings(
            cluster.bootstrap_servers,
            kafka_create_topics=True,
            produce_timeout_seconds=2.0,
            readiness_cache_seconds=0,
            readiness_failure_window_seconds=1,
            max_body_bytes=4 * 1024 * 1024,
        )
        async with serve(create_app(settings)) as client:

            async def ready() -> bool:
                return (await client.get("/readyz")).status_code == 200

            await eventually(ready, timeout=60, what="ingest ready on the private broker")
            killed = asyncio.Event()
            outcomes = Outcomes()
            senders = [asyncio.create_task(sender(client, n, killed, outcomes)) for n in range(SENDERS)]

            async def some_accepted() -> bool:
                return len(outcomes.accepted) >= SENDERS * 2

            await eventually(some_accepted, timeout=60, what="a first share of the requests to be accepted")
            await asyncio.to_thread(cluster.kill_node, 1)
            killed.set()

            async def refused_mid_request() -> bool:
                return len(outcomes.refused_in_flight) >= 1 and outcomes.refusals >= SENDERS

            await eventually(refused_mid_request, timeout=30, what="requests in flight at the kill to be refused")
            await asyncio.to_thread(cluster.start_node, 1)
            await asyncio.wait_for(asyncio.gather(*senders), timeout=180)

        seen = await committed_alerts(cluster.bootstrap_servers)
        every_request = {f"s{s}-r{n}" for s in range(SENDERS) for n in range(REQUESTS_PER_SENDER)}
        assert outcomes.accepted == every_request
        assert set(seen) == every_request, "an accepted request is missing from Kafka"
        indexes = {str(i) for i in range(ALERTS_PER_REQUEST)}
        partial = {r: c for r, c in seen.items() if set(c) != indexes or len(set(c.values())) != 1}
        assert not partial, f"requests half-produced: {sorted(partial)}"
        copies = Counter(next(iter(c.values())) for c in seen.values())
        unknown = (REGISTRY.get_sample_value("alertrouter_ingest_requests_outcome_unknown_total") or 0) - unknown_before
        print(f"refused in flight: {sorted(outcomes.refused_in_flight)}; copies: {copies}; outcome unknown: {unknown}")
        assert set(copies) <= {1, 2}
        assert copies[2] <= unknown, "a request refused with 503 was committed although its commit was never sent"
    finally:
        await asyncio.to_thread(cluster.stop)
