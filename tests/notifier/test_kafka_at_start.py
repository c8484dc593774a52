"""A notifier process started while Kafka is away keeps running: /healthz answers, /readyz is 503, start-up is
retried, and it becomes ready once a broker answers; SIGTERM still stops it at once. It used to exit 1 after a few
seconds, so a pod restarted during a Kafka outage crash-looped with a growing back-off."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx

from tests.helpers import LateBroker, eventually, free_port


def _environment(kafka: str, database_url: str, port: int, topics: dict[str, str]) -> dict[str, str]:
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "DATABASE_URL": database_url,
        "KAFKA_TOPIC_REPLICATION_FACTOR": "1",
        "NOTIFIER_HOST": "127.0.0.1",
        "NOTIFIER_PORT": str(port),
        "NOTIFIER_PUBLIC_URL": "http://notifier.test",
        "LOG_FORMAT": "json",
        **{f"NOTIFIER_{key.upper()}": value for key, value in topics.items()},
    }


async def _healthy(client: httpx.AsyncClient) -> bool:
    try:
        return (await client.get("/healthz")).status_code == 200
    except httpx.TransportError:
        return False


async def test_the_notifier_waits_for_kafka_and_becomes_ready_when_it_arrives(
    kafka_bootstrap: str, notifier_database: str, topics: dict[str, str], tmp_path: Path
) -> None:
    broker, port, log = LateBroker(kafka_bootstrap), free_port(), tmp_path / "notifier.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "alertrouter_notifier",
            "run",
            env=_environment(broker.address, notifier_database, port, topics),
            stdout=out,
            stderr=out,
        )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            await eventually(lambda: _healthy(client), timeout=30, what="/healthz while Kafka is away")

            async def retried_twice() -> bool:
                return log.read_text().count("kafka_unavailable_at_start") >= 2

            await eventually(retried_twice, what="start-up retries")
            assert process.returncode is None, log.read_text()[-2000:]
            away = await client.get("/readyz")
            assert away.status_code == 503 and away.json()["checks"]["kafka"] == "unreachable"

            await broker.arrive()

            async def ready() -> bool:
                assert process.returncode is None, log.read_text()[-2000:]
                return (await client.get("/readyz")).status_code == 200

            await eventually(ready, timeout=30, what="/readyz once the broker answers")
        assert "kafka_connected_at_start" in log.read_text()
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await broker.close()


async def test_sigterm_stops_a_notifier_still_waiting_for_kafka(topics: dict[str, str]) -> None:
    port = free_port()
    env = _environment(f"127.0.0.1:{free_port()}", "postgresql+asyncpg://nobody@127.0.0.1:9/none", port, topics)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "alertrouter_notifier", "run", env=env, stdout=asyncio.subprocess.DEVNULL
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            await eventually(lambda: _healthy(client), timeout=30, what="/healthz while Kafka is away")
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 15) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
