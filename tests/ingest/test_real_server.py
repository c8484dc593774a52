"""Ingest as it runs in production (``python -m alertrouter_ingest``: uvicorn, uvloop, httptools), over real sockets.

Two things only a real server shows: idle or slow clients cannot starve intake (they hold no in-flight slot and
are answered 408 at the body deadline), and the memory one request can take (the server process's peak RSS,
``VmHWM`` in /proc, which also catches a spike between two samples).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import eventually, free_port
from tests.ingest.conftest import AM_KEY, CONFIG, EV2_KEY, fixture_bytes, fixture_json

MIB = 1024 * 1024


@dataclass
class RealIngest:
    pid: int
    port: int
    client: httpx.AsyncClient

    def memory_kib(self, field: str) -> int:
        """``VmRSS`` (now) or ``VmHWM`` (peak so far) of the server process, in KiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
        raise AssertionError(f"/proc/{self.pid}/status has no {field}")

    async def metric(self, name: str) -> float:
        text = (await self.client.get("/metrics")).text
        for line in text.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return 0.0


@asynccontextmanager
async def real_ingest(kafka: str, tmp_path: Path, **env: str) -> AsyncIterator[RealIngest]:
    port = free_port()
    environment = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "KAFKA_CREATE_TOPICS": "false",
        "ALERTROUTER_CONFIG": str(CONFIG),
        "INGEST_HOST": "127.0.0.1",
        "INGEST_PORT": str(port),
        "INGEST_KAFKA_TRANSACTIONAL_ID_PREFIX": f"real-server-{uuid.uuid4().hex[:8]}",
        "LOG_LEVEL": "WARNING",
        **env,
    }
    stderr = (tmp_path / f"ingest-{port}.stderr").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "alertrouter_ingest", env=environment, stdout=asyncio.subprocess.DEVNULL, stderr=stderr
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:

            async def ready() -> bool:
                if process.returncode is not None:
                    raise AssertionError(f"ingest exited: {(tmp_path / f'ingest-{port}.stderr').read_text()[-2000:]}")
                try:
                    return (await client.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(ready, timeout=60, what="the ingest server to be ready")
            yield RealIngest(process.pid, port, client)
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 30)
        stderr.close()


async def test_600_idle_clients_holding_partial_bodies_do_not_stop_intake(kafka_bootstrap: str, tmp_path: Path) -> None:
    """More idle connections than the 512 in-flight slots: every intake still answers 2xx within 1 s, and each
    idle client gets 408 at the body deadline."""
    async with real_ingest(kafka_bootstrap, tmp_path, INGEST_BODY_READ_TIMEOUT_SECONDS="5") as ingest:
        idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        for index in range(600):
            reader, writer = await asyncio.open_connection("127.0.0.1", ingest.port)
            path = "/v2/enqueue" if index % 2 else f"/v1/alertmanager/{AM_KEY}"
            head = f"POST {path} HTTP/1.1\r\nHost: ingest\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n"
            writer.write(head.encode() + b"\r\n" + b'{"version": "4", ')
            idle.append((reader, writer))
        await asyncio.gather(*(writer.drain() for _, writer in idle))

        async def all_reading() -> bool:
            return await ingest.metric("alertrouter_ingest_reading_bodies") >= 600

        await eventually(all_reading, timeout=20, what="600 requests waiting for their bodies")
        trigger = fixture_json("pagerduty/trigger.json") | {"routing_key": EV2_KEY}
        firing = fixture_bytes("alertmanager/firing-single.json")
        for path, body in (("/v2/enqueue", json.dumps(trigger).encode()), (f"/v1/alertmanager/{AM_KEY}", firing)):
            started = time.monotonic()
            response = await ingest.client.post(path, content=body)
            elapsed = time.monotonic() - started
            assert response.status_code == 202, response.text
            assert elapsed < 1.0, f"a valid request took {elapsed:.2f}s behind 600 idle connections"
        answers = await asyncio.gather(*(asyncio.wait_for(reader.readline(), 30) for reader, _ in idle))
        for _, writer in idle:
            writer.close()
    assert {answer.split(b" ", 2)[1] for answer in answers} == {b"408"}


def _group(alerts: int, **fields: Any) -> bytes:
    alert = {"status": "firing", "labels": {"alertname": "A"}, "startsAt": "2025-06-03T09:12:41Z"}
    body = {"version": "4", "groupKey": "{}:{}", "status": "firing", "alerts": [], **fields}
    body["alerts"] = [alert | {"labels": {"alertname": f"A{i}"}} for i in range(alerts)]
    return json.dumps(body, separators=(",", ":")).encode()


AMPLIFIERS: dict[str, tuple[Callable[[], bytes], int]] = {
    # the issue's request: a 491 KB groupKey, once copied into each of many alerts' events; each keeps 4 KB of it
    "huge groupKey": (lambda: _group(300, groupKey="g" * 480_000), 202),
    # everything the caps allow repeated into every event, until the produced-bytes limit stops it
    "common labels and annotations at their caps": (
        lambda: _group(
            600,
            groupKey="g" * 4096,
            externalURL="http://" + "e" * 2000,
            commonLabels={"padding1": "l" * 100_000, "padding2": "l" * 100_000},
            commonAnnotations={"padding1": "a" * 100_000, "padding2": "a" * 100_000},
        ),
        413,
    ),
    # the most events a body of that size can carry, all accepted
    "5000 small alerts": (lambda: _group(5000), 202),
}


async def test_no_request_of_500_kb_raises_peak_memory_by_64_mib(kafka_bootstrap: str, tmp_path: Path) -> None:
    async with real_ingest(kafka_bootstrap, tmp_path) as ingest:
        await ingest.client.post(f"/v1/alertmanager/{AM_KEY}", content=_group(50))  # warm up every code path
        for name, (build, status) in AMPLIFIERS.items():
            body = build()
            assert 400_000 < len(body) <= 512 * 1024, (name, len(body))
            peak_before = ingest.memory_kib("VmHWM")
            response = await ingest.client.post(f"/v1/alertmanager/{AM_KEY}", content=body)
            assert response.status_code == status, (name, response.text[:300])
            grown_mib = (ingest.memory_kib("VmHWM") - peak_before) / 1024
            print(f"{name}: {len(body)} bytes, answered {status}, peak RSS grew by {grown_mib:.1f} MiB")
            assert grown_mib < 64, f"{name}: peak RSS grew by {grown_mib:.0f} MiB"


@pytest.mark.parametrize("argument", ["--help", "-h"])
async def test_help_prints_usage_and_starts_nothing(argument: str) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "alertrouter_ingest", argument, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0
    assert b"usage: alertrouter-ingest" in out
    assert b"INGEST_" in out


async def test_metrics_sum_every_worker(kafka_bootstrap: str, tmp_path: Path) -> None:
    """With two workers, /metrics counts every request whichever worker served it and whichever answers."""
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()  # prometheus-client needs it before its first import
    async with real_ingest(
        kafka_bootstrap, tmp_path, INGEST_WORKERS="2", PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)
    ) as ingest:
        body = fixture_bytes("alertmanager/firing-single.json")
        sent = 0

        async def both_workers_served() -> bool:
            nonlocal sent
            for _ in range(10):  # a new connection each time, so the workers take turns accepting
                response = await ingest.client.post(
                    f"/v1/alertmanager/{AM_KEY}", content=body, headers={"Connection": "close"}
                )
                # A worker whose Kafka producer is still connecting answers 503 (retry later), never 202.
                assert response.status_code in (202, 503)
                sent += response.status_code == 202
            return len(list(metrics_dir.glob("counter_*.db"))) >= 2

        await eventually(both_workers_served, timeout=60, what="requests served by both workers")
        name = 'alertrouter_ingest_requests_total{source="alertmanager",status="202"}'
        for _ in range(6):
            scraped = await ingest.client.get("/metrics", headers={"Connection": "close"})
            values = [line.rsplit(" ", 1)[1] for line in scraped.text.splitlines() if line.startswith(name)]
            assert [float(value) for value in values] == [sent]


async def test_workers_metrics_directory_forgets_a_killed_worker_and_is_removed_at_shutdown(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """Two workers in a temporary metrics directory: a worker killed outright (it never marks itself dead) has its
    live gauges dropped at the next scrape, and the directory is gone once ingest stopped."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    async with real_ingest(kafka_bootstrap, tmp_path, INGEST_WORKERS="2", TMPDIR=str(temporary)) as ingest:
        [directory] = list(temporary.glob("alertrouter-ingest-metrics-*"))

        def live_gauge_pids() -> set[int]:
            return {int(path.stem.rsplit("_", 1)[1]) for path in directory.glob("gauge_livesum_*.db")}

        async def both_workers_started() -> bool:
            return len(live_gauge_pids()) == 2

        await eventually(both_workers_started, timeout=60, what="both workers' live gauge files")
        killed = min(live_gauge_pids())
        os.kill(killed, signal.SIGKILL)

        async def forgotten() -> bool:
            try:
                scraped = await ingest.client.get("/metrics", headers={"Connection": "close"})
            except httpx.TransportError:  # a connection the killed worker had accepted
                return False
            assert scraped.status_code == 200
            return killed not in live_gauge_pids()

        await eventually(forgotten, timeout=60, what=f"the killed worker {killed}'s live gauges to be dropped")
        assert directory.is_dir()
    assert not directory.exists()
    assert list(temporary.iterdir()) == []


async def test_bytes_of_a_client_that_disconnects_mid_body_are_given_back(kafka_bootstrap: str, tmp_path: Path) -> None:
    """Two clients send 5,000 bytes of a body (one declared, one chunked) and hang up: the bytes they held in the
    budget are given back, and a request needing nearly all of it (more than was left while they held theirs) is
    accepted."""
    # the least budget these limits allow: one body of the limit, parsed (12 times), and its records
    env = {"INGEST_MAX_IN_FLIGHT_BYTES": str(12 * 8192 + 4096), "INGEST_MAX_BODY_BYTES": "8192"}
    env["INGEST_MAX_PRODUCED_BYTES_PER_REQUEST"] = "4096"
    async with real_ingest(kafka_bootstrap, tmp_path, **env) as ingest:
        heads = {
            "declared": "Content-Length: 8000\r\n",
            "chunked": "Transfer-Encoding: chunked\r\n",
        }
        writers = []
        for name, framing in heads.items():
            _, writer = await asyncio.open_connection("127.0.0.1", ingest.port)
            head = f"POST /v1/alertmanager/{AM_KEY} HTTP/1.1\r\nHost: ingest\r\nContent-Type: application/json\r\n"
            part = b" " * 5000
            body = part if name == "declared" else b"%x\r\n%s\r\n" % (len(part), part)
            writer.write(head.encode() + framing.encode() + b"\r\n" + body)
            await writer.drain()
            writers.append(writer)

        async def held(count: int) -> bool:
            return await ingest.metric("alertrouter_ingest_bytes_in_flight") == count

        await eventually(lambda: held(10_000), timeout=20, what="both partial bodies held in the budget")
        for writer in writers:
            writer.close()
        await eventually(lambda: held(0), timeout=20, what="the disconnected clients' bytes to be given back")
        firing = fixture_bytes("alertmanager/firing-single.json")
        nearly_all = b" " * (8000 - len(firing)) + firing
        response = await ingest.client.post(f"/v1/alertmanager/{AM_KEY}", content=nearly_all)
        assert response.status_code == 202, response.text
