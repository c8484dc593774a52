"""Scenario 1: the router is SIGKILLed in the middle of a 2,000-alert stream and restarted.

What must hold: the batch in hand when it died was never committed to Kafka, so the restarted router consumes it
again; events already decided are skipped (a decision is unique per event id) and pages already in the outbox keep
their deterministic ids, so nothing is lost and nobody is paged twice.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.faults.providers import Arrivals
from tests.faults.scenario import Scenario
from tests.faults.stack import Stack

pytestmark = pytest.mark.faults

ALERTS = 2000


async def test_router_sigkilled_mid_stream_loses_and_duplicates_nothing(stack: Stack, arrivals: Arrivals) -> None:
    scenario = Scenario("1 router SIGKILL mid-stream", stack, arrivals)
    stream = asyncio.create_task(scenario.sender.stream(scenario.run, ALERTS, rate=200))
    await scenario.until_incidents(ALERTS // 4)
    stack.kill("router-1")
    incidents_at_kill = sum((await scenario.ledger.incidents(scenario.run)).values())
    assert incidents_at_kill < ALERTS, "the kill must land while the router is in the middle of the stream"
    await stack.start("router-1")
    await stream

    assert len(scenario.sender.acknowledged) == ALERTS
    report = await scenario.verify()
    report.notes.append(f"killed after {incidents_at_kill} incidents")
