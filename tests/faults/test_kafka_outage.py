"""Scenario 5: the single Kafka broker is stopped for 30 s, with a real Alertmanager sending to ingest.

What must hold: while Kafka is away ingest answers 503 with Retry-After (it never acknowledges what Kafka did not,
and what it refused never reaches the router later: its transaction is aborted),
Alertmanager keeps retrying its notifications, and after the broker is back every alert Alertmanager accepted
becomes exactly one incident with its pages: the consumers and the router's outbox resume on their own.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import httpx
import pytest

from tests.faults.alertmanager import post_alerts, running_alertmanager
from tests.faults.alerts import INTEGRATION_KEY, alert, labels, webhook
from tests.faults.providers import Arrivals
from tests.faults.scenario import Scenario
from tests.faults.stack import Stack
from tests.helpers import eventually

pytestmark = pytest.mark.faults

BEFORE, DURING = range(0, 40), range(40, 80)
OUTAGE_SECONDS = 30
PROBE = 99999


async def test_broker_down_30s_behind_a_real_alertmanager(stack: Stack, arrivals: Arrivals) -> None:
    scenario = Scenario("5 broker stopped 30 s behind Alertmanager", stack, arrivals)
    run, ingest = scenario.run, stack.url("ingest")
    refused_before = await stack.metric("ingest", "alertrouter_ingest_requests_total", status="503")
    receiver = f"{ingest}/v1/alertmanager/{INTEGRATION_KEY}"
    async with running_alertmanager(stack.workdir / f"alertmanager-{run}", receiver) as am:
        await post_alerts(am, [labels(run, i) for i in BEFORE])
        await scenario.until_incidents(len(BEFORE))
        await asyncio.to_thread(stack.kafka.stop_node, 1)
        outage_began = time.monotonic()
        await post_alerts(am, [labels(run, i) for i in DURING])
        refusal = await _ingest_refuses(ingest, scenario)
        await asyncio.sleep(max(0.0, outage_began + OUTAGE_SECONDS - time.monotonic()))  # hold the outage
        refused = await stack.metric("ingest", "alertrouter_ingest_requests_total", status="503") - refused_before
        await asyncio.to_thread(stack.kafka.start_node, 1)
        scenario.sender.acknowledged.update(f"{run}-{i:05d}" for i in [*BEFORE, *DURING])  # accepted by Alertmanager
        report = await scenario.verify()
    incidents = await scenario.ledger.incidents(run)
    assert f"{run}-{PROBE:05d}" not in incidents, "a request ingest refused with 503 was produced after all"
    assert refused > 1, "Alertmanager's notifications should have been refused (and retried) during the outage"
    report.notes.append(f"ingest answered 503 {refused:.0f} times (Retry-After: {refusal})")


async def _ingest_refuses(ingest: str, scenario: Scenario) -> str:
    """A direct request while the broker is down: 503 with Retry-After, never a 2xx."""
    probe = webhook([alert(scenario.run, PROBE, datetime.now(UTC))])

    async def refused() -> str | None:
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(f"{ingest}/v1/alertmanager/{INTEGRATION_KEY}", json=probe)
        assert not response.is_success, "ingest acknowledged an alert while Kafka was down"
        return response.headers.get("Retry-After") if response.status_code == 503 else None

    return await eventually(refused, timeout=20, what="ingest answering 503 with Retry-After")
