"""A configuration change reaches every process, as separate OS processes on one configuration folder: a router API
process, a router consumer process and ingest (two workers). A reload asked of the API process is picked up by the
others through their watch on the files; each reports the new version (``/v1/config``, the version-info metric) and
behaves by it (ingest accepts the new integration's key, the consumer routes by the new rule). An invalid change is
refused and counted by each, and every process keeps serving the version before it."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kafka_offsets import skip_alert_backlog

from alertrouter_router.db.migrate import upgrade_to_head
from alertrouter_shared.auth import hash_token
from tests.helpers import DatabaseFactory, eventually, free_port
from tests.router.conftest import BILLING_SERVICE, CONFIG

TOKEN = "convergence-admin"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NEW_KEY = "billing-alertmanager-key"
BILLING = f"""{BILLING_SERVICE}integrations:
  - id: billing-am
    type: alertmanager
    key: {NEW_KEY}
    development_only: true
"""
INVALID = BILLING.replace("escalation_policy: payments-default", "escalation_policy: nowhere").replace(
    "billing-am", "test-am"
)


@dataclass
class Process:
    name: str
    client: httpx.AsyncClient
    log: Path

    async def config(self) -> dict[str, Any]:
        response = await self.client.get("/v1/config")
        assert response.status_code == 200, f"{self.name}: {response.text}"
        return dict(response.json())

    async def metric(self, name: str, **labels: str) -> float | None:
        """The sample of ``name`` whose labels include ``labels``; None when there is none."""
        for line in (await self.client.get("/metrics")).text.splitlines():
            if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
        return None


@asynccontextmanager
async def started(name: str, args: list[str], env: dict[str, str], port: int, tmp: Path) -> AsyncIterator[Process]:
    log = tmp / f"{name}.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, *args, env={**os.environ, **env}, stdout=out, stderr=out
        )
        try:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=10) as client:

                async def ready() -> bool:
                    if process.returncode is not None:
                        raise AssertionError(f"{name} exited: {log.read_text()[-3000:]}")
                    try:
                        return (await client.get("/readyz")).status_code == 200
                    except httpx.TransportError:
                        return False

                await eventually(ready, timeout=90, interval=0.2, what=f"{name} to be ready")
                yield Process(name, client, log)
        finally:
            process.terminate()
            await asyncio.wait_for(process.wait(), 30)


@pytest.fixture
def own_database(databases: DatabaseFactory) -> str:
    """The processes' own database: their consumer must not write into the in-process router's."""
    url = databases.create()
    upgrade_to_head(url, wait=30)
    return url


def _alert(fingerprint: str) -> bytes:
    payload = json.loads((FIXTURES / "alertmanager" / "firing-single.json").read_text())
    alert = payload["alerts"][0]
    alert["labels"] = {"alertname": "InvoicesStuck", "component": "billing-api", "severity": "critical"}
    alert["fingerprint"] = fingerprint
    alert["startsAt"] = datetime.now(UTC).isoformat()
    payload["alerts"] = [alert]
    return json.dumps(payload).encode()


def _write(path: Path, text: str) -> None:
    """Replace a file at once (write beside it, then rename), as a ConfigMap update does."""
    part = path.with_name(f".{path.name}.part")
    part.write_text(text, encoding="utf-8")
    part.replace(path)


async def test_a_change_reaches_a_second_router_process_and_ingest(
    kafka_bootstrap: str, own_database: str, tmp_path: Path
) -> None:
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "ownership.yaml").write_text(CONFIG.read_text(), encoding="utf-8")
    group = f"convergence-{uuid.uuid4().hex[:8]}"
    await skip_alert_backlog(kafka_bootstrap, group)  # only this test's alerts
    common = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_CREATE_TOPICS": "false",
        "ALERTROUTER_CONFIG": str(folder),
        "ALERTROUTER_CONFIG_POLL_SECONDS": "0.3",
        "LOG_LEVEL": "INFO",
    }
    router_env = common | {
        "DATABASE_URL": own_database,
        "ALERTROUTER_API_TOKENS": f"{hash_token(TOKEN)}:read+write",
        "ROUTER_HOST": "127.0.0.1",
        "ROUTER_CONSUMER_GROUP": group,
    }
    api_port, consumer_port, ingest_port = free_port(), free_port(), free_port()
    ingest_env = (
        common
        | {
            "INGEST_HOST": "127.0.0.1",
            "INGEST_PORT": str(ingest_port),
            "INGEST_WORKERS": "2",  # each worker follows the files; the metric sums them
            "INGEST_KAFKA_TRANSACTIONAL_ID_PREFIX": f"convergence-{uuid.uuid4().hex[:8]}",
        }
    )
    api_args, consumer_args = ["-m", "alertrouter_router", "api"], ["-m", "alertrouter_router", "consume"]
    async with (
        started("router-api", api_args, router_env | {"ROUTER_PORT": str(api_port)}, api_port, tmp_path) as api,
        started(
            "router-consumer", consumer_args, router_env | {"ROUTER_PORT": str(consumer_port)}, consumer_port, tmp_path
        ) as consumer,
        started("ingest", ["-m", "alertrouter_ingest"], ingest_env, ingest_port, tmp_path) as ingest,
    ):
        everyone = (api, consumer, ingest)
        before = (await api.config())["source_version"]
        assert [(await p.config())["source_version"] for p in everyone] == [before] * 3
        refused = await ingest.client.post(f"/v1/alertmanager/{NEW_KEY}", content=_alert("0" * 16))
        assert refused.status_code == 404

        _write(folder / "billing.yaml", BILLING)
        reloaded = await api.client.post("/v1/config/reload")
        assert reloaded.status_code == 200, reloaded.text
        after = reloaded.json()["source_version"]
        assert after != before

        async def converged() -> bool:
            workers = await ingest.metric("alertrouter_ingest_config_version_info", source_version=after)
            return workers == 2 and (await consumer.config())["source_version"] == after

        await eventually(converged, timeout=30, what="the consumer and both ingest workers serving the new version")
        assert await consumer.metric("alertrouter_router_config_version_info", source_version=after) == 1
        assert await consumer.metric("alertrouter_router_config_version_info", source_version=before) is None
        assert await ingest.metric("alertrouter_ingest_config_version_info", source_version=before) == 0
        assert (await ingest.config())["source_version"] == after
        fixture_integrations = len(yaml.safe_load(CONFIG.read_text())["integrations"])
        assert (await ingest.config())["integrations"] == fixture_integrations + 1  # and billing's

        fingerprint = uuid.uuid4().hex[:16]
        accepted = await ingest.client.post(f"/v1/alertmanager/{NEW_KEY}", content=_alert(fingerprint))
        assert accepted.status_code == 202, accepted.text
        dedup_key = accepted.json()["events"][0]["dedup_key"]

        async def routed() -> list[dict[str, Any]]:
            found = await api.client.get("/v1/decisions", params={"dedup_key": dedup_key})
            return list(found.json()["items"])

        decisions = await eventually(routed, timeout=60, what="the consumer's decision for the new integration's alert")
        assert decisions[0]["service_id"] == "billing", decisions[0]
        kept = (await api.client.get("/v1/config/versions", params={"limit": 1})).json()["items"][0]
        assert kept["source_version"] == after and kept["trigger"] in ("api", "watch")  # whichever process was first

        _write(folder / "billing.yaml", INVALID)

        async def refused_by_both() -> bool:
            rejected = await consumer.metric("alertrouter_router_config_reloads_total", result="rejected")
            ingest_rejected = await ingest.metric("alertrouter_ingest_config_reloads_total", result="rejected")
            return (rejected or 0) >= 1 and (ingest_rejected or 0) >= 2

        await eventually(refused_by_both, timeout=30, what="the consumer and ingest refusing the invalid change")
        consumer_now, ingest_now = await consumer.config(), await ingest.config()
        assert consumer_now["source_version"] == after and any(
            "nowhere" in e for e in consumer_now["last_reload_errors"]
        )
        assert consumer_now["last_reload_rejected_at"] is not None and ingest_now["last_reload_rejected_at"] is not None
        assert ingest_now["source_version"] == after and ingest_now["last_reload_errors"] >= 1
        again = await ingest.client.post(f"/v1/alertmanager/{NEW_KEY}", content=_alert(uuid.uuid4().hex[:16]))
        assert again.status_code == 202, again.text
        assert (await api.config())["source_version"] == after  # the API process refused it too, on its own
