"""A private broker stopped and restarted under a running ingest: 503 while it is down, the same request accepted
once it is back, with readiness following -- and no restart of ingest in between."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import local_kafka  # tests/conftest.py puts scripts/ on sys.path
import pytest
from aiokafka import AIOKafkaConsumer

from alertrouter_ingest.app import create_app
from alertrouter_shared.topics import ALERTS
from tests.helpers import eventually, free_port_pair
from tests.ingest.conftest import AM_KEY, fixture_bytes, ingest_settings, serve

pytestmark = [pytest.mark.kafka, pytest.mark.faults]


async def test_broker_stopped_then_restarted(tmp_path: Path) -> None:
    cluster = local_kafka.LocalKafka(tmp_path / "kafka", nodes=1, base_port=free_port_pair())
    await asyncio.to_thread(cluster.start)
    try:
        settings = ingest_settings(
            cluster.bootstrap_servers,
            kafka_create_topics=True,  # ingest creates the project's topics itself on this fresh broker
            produce_timeout_seconds=3.0,
            readiness_cache_seconds=0,
            readiness_failure_window_seconds=1,
        )
        body = fixture_bytes("alertmanager/firing-single.json")
        async with serve(create_app(settings)) as client:

            async def ready() -> bool:
                return (await client.get("/readyz")).status_code == 200

            await eventually(ready, timeout=60, what="ingest ready on the private broker")
            before = await client.post(f"/v1/alertmanager/{AM_KEY}", content=body)
            assert before.status_code == 202

            await asyncio.to_thread(cluster.stop)
            during = await client.post(f"/v1/alertmanager/{AM_KEY}", content=body)
            assert during.status_code == 503
            assert during.headers["retry-after"] == "5"
            assert (await client.get("/readyz")).status_code == 503
            again = await client.post(f"/v1/alertmanager/{AM_KEY}", content=body)
            assert again.status_code == 503  # refused at once while the broker is known to be away

            await asyncio.to_thread(cluster.start_node, 1)
            await eventually(ready, timeout=90, what="readiness after the broker came back")

            async def accepted() -> bool:
                return (await client.post(f"/v1/alertmanager/{AM_KEY}", content=body)).status_code == 202

            await eventually(accepted, timeout=30, what="the same request to be accepted again")

        consumer = AIOKafkaConsumer(ALERTS, bootstrap_servers=cluster.bootstrap_servers, auto_offset_reset="earliest")
        await consumer.start()
        try:
            stored: list[dict[str, object]] = []

            async def read() -> bool:
                batches = await consumer.getmany(timeout_ms=500)
                stored.extend(json.loads(r.value or b"{}") for records in batches.values() for r in records)
                return any(e["event_id"] == before.json()["events"][0]["event_id"] for e in stored)

            await eventually(read, timeout=30, what="the event accepted before the outage")
            assert all(e["dedup_key"] == "am:test-am:87a9643cd6a8de19" for e in stored)
        finally:
            await consumer.stop()
    finally:
        await asyncio.to_thread(cluster.stop)
