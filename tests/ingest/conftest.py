"""Ingest, in-process (FastAPI app + httpx ASGI transport), producing to the session's real Kafka broker."""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI

from alertrouter_ingest.app import create_app
from alertrouter_ingest.publisher import Publisher
from alertrouter_ingest.settings import IngestSettings
from alertrouter_shared.topics import ALERTS
from tests.helpers import eventually, stop_reading

if TYPE_CHECKING:
    from tests.ingest.sns_world import SnsWorld

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CONFIG = FIXTURES / "ingest" / "ownership.yaml"
TEST_INTEGRATIONS = {
    "test-am",
    "test-am-unbound",
    "test-am-disabled",
    "test-grafana",
    "test-cw",
    "test-cw-v2",
    "test-cw-any-topic",
    "test-ev2",
    "test-ev2-unbound",
    "test-ev2-disabled",
}
AM_KEY = "test-am-key"
CW_KEY = "test-cw-key"
CW_ANY_KEY = "test-cw-any-topic-key"
CW_V2_KEY = "test-cw-v2-key"
GRAFANA_KEY = "test-grafana-key"
EV2_KEY = "0123456789abcdef0123456789abcdef"
EV2_UNBOUND_KEY = "unbound0000000000000000000000000"


def fixture_bytes(relative: str) -> bytes:
    return (FIXTURES / relative).read_bytes()


def fixture_json(relative: str) -> Any:
    return json.loads(fixture_bytes(relative))


def ingest_settings(kafka: str, **overrides: Any) -> IngestSettings:
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": kafka,
        "config_path": str(CONFIG),
        "kafka_create_topics": False,
        "access_log": False,
    }
    values.update(overrides)
    return IngestSettings(**values)


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan running, reached through an in-process ASGI transport."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest.test") as client:
            yield client


@pytest.fixture(scope="session")
async def ingest_publisher(kafka_bootstrap: str) -> AsyncIterator[Publisher]:
    """One connected publisher (its transactional producers) shared by the apps of many tests: faster."""
    publisher = Publisher(ingest_settings(kafka_bootstrap, kafka_transactional_id_prefix="ingest-tests"))
    await publisher.start()
    await publisher.wait_connected(timeout=60)
    yield publisher
    await publisher.stop()


@pytest.fixture
async def client(kafka_bootstrap: str, ingest_publisher: Publisher) -> AsyncIterator[httpx.AsyncClient]:
    """The default app: test configuration, shared publisher, real Kafka."""
    async with serve(create_app(ingest_settings(kafka_bootstrap), publisher=ingest_publisher)) as http:
        yield http


class AlertsLog:
    """Every committed record of the alerts topic, read from the beginning by a private consumer group.

    Like the router, it reads with read_committed: records of aborted transactions are never seen. Progress is
    the consumer's position, which moves past transaction markers (offsets that hold no record).
    """

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.consumer = AIOKafkaConsumer(
            ALERTS,
            bootstrap_servers=bootstrap,
            group_id=f"ingest-test-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            isolation_level="read_committed",
        )
        self.by_event_id: dict[str, tuple[bytes, dict[str, Any]]] = {}
        self.raw_by_event_id: dict[str, bytes] = {}  # the record's value exactly as the router receives it
        self.event_ids_by_dedup_key: dict[str, list[str]] = {}
        self.positions: dict[int, int] = {}
        self.records: list[tuple[int, int, bytes, dict[str, Any]]] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> AlertsLog:
        await self.consumer.start()
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=100)
            for tp, records in batches.items():
                for record in records:
                    value = json.loads(record.value or b"{}")
                    self.records.append((tp.partition, record.offset, record.key or b"", value))
                    event_id = value.get("event_id", "")
                    self.by_event_id[event_id] = (record.key or b"", value)
                    self.raw_by_event_id[event_id] = record.value or b""
                    self.event_ids_by_dedup_key.setdefault(value.get("dedup_key", ""), []).append(event_id)
            for tp in self.consumer.assignment():
                self.positions[tp.partition] = await self.consumer.position(tp)

    async def stop(self) -> None:
        await stop_reading(self.consumer, self._task)

    async def events(self, event_ids: Iterable[str], timeout: float = 20) -> list[tuple[bytes, dict[str, Any]]]:
        """The records for these event ids (key, value), in the given order, once all have been read."""
        wanted = list(event_ids)

        async def found() -> bool:
            return all(e in self.by_event_id for e in wanted)

        await eventually(found, timeout=timeout, what=f"events {wanted} on {ALERTS}")
        return copy.deepcopy([self.by_event_id[e] for e in wanted])

    async def raw_events(self, event_ids: Iterable[str], timeout: float = 20) -> list[bytes]:
        """The records' values, byte for byte, once all have been read."""
        wanted = list(event_ids)
        await self.events(wanted, timeout)
        return [self.raw_by_event_id[e] for e in wanted]

    async def event_ids_for(self, dedup_key: str, timeout: float = 20) -> list[str]:
        """Event ids of the records with ``dedup_key`` (Events v2 answers carry no event id), once one is read."""

        async def found() -> list[str]:
            return list(self.event_ids_by_dedup_key.get(dedup_key, []))

        return await eventually(found, timeout=timeout, what=f"an event with dedup key {dedup_key!r}")

    async def end_offsets(self) -> dict[int, int]:
        probe = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False, isolation_level="read_committed"
        )
        await probe.start()
        try:
            partitions = probe.partitions_for_topic(ALERTS) or set()
            if not partitions:
                await probe._client.force_metadata_update()
                partitions = probe.partitions_for_topic(ALERTS) or set()
            ends = await probe.end_offsets([TopicPartition(ALERTS, p) for p in partitions])
            return {tp.partition: offset for tp, offset in ends.items()}
        finally:
            await probe.stop()

    async def produced_since(self, before: dict[int, int]) -> list[dict[str, Any]]:
        """Records of ingest's test integrations appended after ``before`` (end offsets taken earlier)."""
        after = await self.end_offsets()

        async def caught_up() -> bool:
            return all(self.positions.get(p, 0) >= end for p, end in after.items() if end > before.get(p, 0))

        await eventually(caught_up, timeout=20, what="the alerts topic to be read to its end")
        return copy.deepcopy(
            [
                value
                for partition, offset, _, value in self.records
                if offset >= before.get(partition, 0) and value.get("integration_id") in TEST_INTEGRATIONS
            ]
        )


@pytest.fixture(scope="session")
async def alerts_log(kafka_bootstrap: str) -> AsyncIterator[AlertsLog]:
    log = await AlertsLog(kafka_bootstrap).start()
    yield log
    await log.stop()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SnsWorld]:
    """The SNS test world (CA, signing certificate, local HTTPS certificate host) of one test module."""
    from tests.ingest.sns_world import make_world

    made = make_world(tmp_path_factory.mktemp("sns"))
    yield made
    made.host.stop()


@pytest.fixture
async def sns_client(
    world: SnsWorld, kafka_bootstrap: str, ingest_publisher: Publisher
) -> AsyncIterator[httpx.AsyncClient]:
    """The default app, trusting the SNS test world's CA and certificate host."""
    async with serve(create_app(world.settings(kafka_bootstrap), publisher=ingest_publisher)) as client:
        yield client
