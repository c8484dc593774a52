"""A real Prometheus Alertmanager (Debian package) delivering to ingest over HTTP; events read back from Kafka."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from alertrouter_ingest.app import create_app
from alertrouter_ingest.publisher import Publisher
from tests.helpers import eventually, free_port
from tests.ingest.conftest import AM_KEY, EV2_KEY, AlertsLog, ingest_settings

BINARY = "prometheus-alertmanager"


@contextlib.asynccontextmanager
async def uvicorn_ingest(kafka: str, publisher: Publisher) -> AsyncIterator[str]:
    port = free_port()
    config = uvicorn.Config(
        create_app(ingest_settings(kafka), publisher=publisher),
        host="127.0.0.1",
        port=port,
        loop="none",
        http="httptools",
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        return server.started

    await eventually(started, timeout=20, what="ingest under uvicorn")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
def alertmanager_binary() -> str:
    found = shutil.which(BINARY)
    if found is None:
        pytest.fail(f"{BINARY} is not installed: run `apt-get install -y prometheus-alertmanager`", pytrace=False)
    return found


def webhook_receiver(url: str) -> str:
    return f"    webhook_configs:\n      - url: {url}\n        send_resolved: true\n"


def pagerduty_receiver(url: str) -> str:
    return f"    pagerduty_configs:\n      - url: {url}\n        routing_key: {EV2_KEY}\n        send_resolved: true\n"


@contextlib.contextmanager
def running_alertmanager(binary: str, directory: Path, receiver: str) -> Iterator[str]:
    port = free_port()
    config = directory / "alertmanager.yml"
    config.write_text(
        "route:\n"
        "  receiver: ingest\n"
        "  group_by: ['alertname']\n"
        "  group_wait: 0s\n"
        "  group_interval: 1s\n"
        "  repeat_interval: 1h\n"
        "receivers:\n"
        "  - name: ingest\n" + receiver
    )
    log = (directory / "alertmanager.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=debug",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


async def test_real_alertmanager_firing_then_resolved(
    alertmanager_binary: str,
    tmp_path: Path,
    kafka_bootstrap: str,
    ingest_publisher: Publisher,
    alerts_log: AlertsLog,
    unique: str,
) -> None:
    alertname = f"IngestRealAM{unique}"
    labels = {"alertname": alertname, "service": "checkout", "severity": "warning", "instance": "web-1"}
    async with uvicorn_ingest(kafka_bootstrap, ingest_publisher) as ingest_url:
        receiver = webhook_receiver(f"{ingest_url}/v1/alertmanager/{AM_KEY}")
        with running_alertmanager(alertmanager_binary, tmp_path, receiver) as am_url:
            async with httpx.AsyncClient(base_url=am_url, timeout=5) as am:

                async def ready() -> bool:
                    with contextlib.suppress(httpx.TransportError):
                        return (await am.get("/-/ready")).status_code == 200
                    return False

                await eventually(ready, timeout=30, what="Alertmanager to be ready")
                started = datetime.now(UTC).isoformat()
                alert: dict[str, Any] = {
                    "labels": labels,
                    "annotations": {"summary": "real alertmanager end to end"},
                    "startsAt": started,
                    "generatorURL": "http://prometheus.test/graph",
                }
                assert (await am.post("/api/v2/alerts", json=[alert])).status_code == 200
                fingerprint = (await am.get("/api/v2/alerts", params={"filter": f'alertname="{alertname}"'})).json()[0][
                    "fingerprint"
                ]

                def mine(action: str) -> list[dict[str, Any]]:
                    return [
                        value
                        for _, _, _, value in alerts_log.records
                        if value.get("labels", {}).get("alertname") == alertname and value["action"] == action
                    ]

                async def fired() -> list[dict[str, Any]]:
                    return mine("trigger")

                (firing, *_) = await eventually(fired, timeout=30, what="the firing event from Alertmanager")
                assert firing["dedup_key"] == f"am:test-am:{fingerprint}"
                assert firing["labels"] == labels
                assert firing["summary"] == "real alertmanager end to end"
                assert firing["severity"] == "warning"
                assert firing["details"]["ends_at"] is None
                assert firing["details"]["receiver"] == "ingest"
                assert firing["links"] == ["http://prometheus.test/graph"]

                alert["endsAt"] = datetime.now(UTC).isoformat()
                assert (await am.post("/api/v2/alerts", json=[alert])).status_code == 200

                async def resolved() -> list[dict[str, Any]]:
                    return mine("resolve")

                (resolution, *_) = await eventually(resolved, timeout=30, what="the resolved event from Alertmanager")
                assert resolution["dedup_key"] == firing["dedup_key"]
                assert resolution["details"]["starts_at"] == firing["details"]["starts_at"]
                assert resolution["details"]["ends_at"] is not None
                assert resolution["occurred_at"] >= firing["occurred_at"]


async def test_real_alertmanagers_pagerduty_notifier_pointed_at_v2_enqueue(
    alertmanager_binary: str,
    tmp_path: Path,
    kafka_bootstrap: str,
    ingest_publisher: Publisher,
    alerts_log: AlertsLog,
    unique: str,
) -> None:
    """``pagerduty_configs`` with ``url: <ingest>/v2/enqueue`` works unchanged: trigger, then resolve."""
    alertname = f"IngestRealPD{unique}"
    async with uvicorn_ingest(kafka_bootstrap, ingest_publisher) as ingest_url:
        receiver = pagerduty_receiver(f"{ingest_url}/v2/enqueue")
        with running_alertmanager(alertmanager_binary, tmp_path, receiver) as am_url:
            async with httpx.AsyncClient(base_url=am_url, timeout=5) as am:

                async def ready() -> bool:
                    with contextlib.suppress(httpx.TransportError):
                        return (await am.get("/-/ready")).status_code == 200
                    return False

                await eventually(ready, timeout=30, what="Alertmanager to be ready")
                alert: dict[str, Any] = {
                    "labels": {"alertname": alertname, "service": "checkout"},
                    "annotations": {"summary": "via the PagerDuty notifier"},
                    "startsAt": datetime.now(UTC).isoformat(),
                }
                assert (await am.post("/api/v2/alerts", json=[alert])).status_code == 200

                def mine(action: str) -> list[dict[str, Any]]:
                    return [
                        value
                        for _, _, _, value in alerts_log.records
                        if value.get("integration_id") == "test-ev2"
                        and alertname in value.get("summary", "") + str(value.get("details", {}).get("payload", ""))
                        and value["action"] == action
                    ]

                async def fired() -> list[dict[str, Any]]:
                    return mine("trigger")

                (firing, *_) = await eventually(fired, timeout=30, what="the trigger from the PagerDuty notifier")
                assert firing["source"] == "events_v2"
                assert firing["dedup_key"].startswith("ev2:test-ev2:")
                assert firing["severity"] == "error"  # Alertmanager's pagerduty_configs default

                alert["endsAt"] = datetime.now(UTC).isoformat()
                assert (await am.post("/api/v2/alerts", json=[alert])).status_code == 200
                resolved_key = firing["dedup_key"]

                async def resolved() -> list[dict[str, Any]]:
                    return [
                        v
                        for _, _, _, v in alerts_log.records
                        if v.get("dedup_key") == resolved_key and v["action"] == "resolve"
                    ]

                await eventually(resolved, timeout=30, what="the resolve from the PagerDuty notifier")
