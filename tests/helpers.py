"""Test helpers shared by the suites: polling with a deadline and reading a topic back."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from aiokafka import AIOKafkaConsumer

from alertrouter_shared.consumer_loop import stop_consumer

if TYPE_CHECKING:
    import local_postgres

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_port_pair() -> int:
    """A port whose successor is also free (Kafka uses port and port+1 for broker and controller)."""
    for _ in range(200):
        port = free_port()
        if port >= 65000:
            continue
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port + 1))
        except OSError:
            continue
        return port
    raise RuntimeError("no free pair of loopback ports")


async def eventually(
    probe: Callable[[], Awaitable[T | None]], timeout: float = 20.0, interval: float = 0.1, what: str = "condition"
) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


class TopicReader:
    """Reads a topic from the beginning in the background with its own consumer group, keeping every record."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=f"test-reader-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            isolation_level="read_committed",
        )
        self.values: list[bytes] = []
        self.headers: list[dict[str, bytes]] = []  # each value's headers, in the same order
        self._seen: set[tuple[int, int]] = set()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> TopicReader:
        await self.consumer.start()
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=100)
            for records in batches.values():
                for record in records:
                    # A group session that expires under load rejoins and reads from the start again: once each.
                    if (record.partition, record.offset) not in self._seen:
                        self._seen.add((record.partition, record.offset))
                        self.values.append(record.value or b"")
                        self.headers.append(dict(record.headers))

    async def stop(self) -> None:
        await stop_reading(self.consumer, self._task)


async def stop_reading(consumer: AIOKafkaConsumer, reader: asyncio.Task[None] | None) -> None:
    """Stop a background reader and its consumer (``stop_consumer``: a session-long reader whose event loop sat still
    through minutes of synchronous tests, its fetch request timing out meanwhile, failed the session's teardown)."""
    if reader is not None:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    await stop_consumer(consumer)


class DatabaseFactory:
    """Creates empty databases on the session's cluster; each suite migrates the schemas it needs."""

    def __init__(self, cluster: local_postgres.LocalPostgres | None) -> None:
        self.cluster = cluster

    def create(self) -> str:
        if self.cluster is None:
            return os.environ["DATABASE_URL_TEST"]
        name = "t_" + uuid.uuid4().hex[:10]
        self.cluster.create_database(name)
        return self.cluster.url(name)


class LateBroker:
    """A bootstrap address where no broker answers until ``arrive()``; then it forwards to the real broker.

    Kafka clients only bootstrap through it: the metadata names the real broker's own address, which they use from
    then on. Stands in for a Kafka cluster that comes back while a service is starting."""

    def __init__(self, broker: str) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        host, _, port = broker.rpartition(":")
        self._broker = (host, int(port))
        self._server: asyncio.Server | None = None

    async def arrive(self) -> None:
        self._server = await asyncio.start_server(self._forward, "127.0.0.1", self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _forward(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        broker_reader, broker_writer = await asyncio.open_connection(*self._broker)

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except OSError:
                pass
            finally:
                writer.close()

        await asyncio.gather(pipe(client_reader, broker_writer), pipe(broker_reader, client_writer))
