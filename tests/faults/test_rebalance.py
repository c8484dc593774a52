"""Scenario 3: two router and two notifier replicas in their consumer groups; one of each is SIGKILLed mid-stream.

What must hold: the dead members' partitions move to the survivors after the session timeout; the survivors
redeliver from the last committed offsets (idempotent: decisions per event id, deliveries per page and contact
method), and the survivor's retry worker takes over the dead notifier's leased sends when their lease ends. Only
those leased sends may arrive twice.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.faults.providers import Arrivals
from tests.faults.scenario import Scenario
from tests.faults.stack import Stack
from tests.faults.verify import IN_TRANSIT_SECONDS

pytestmark = pytest.mark.faults

ALERTS = 400
LEASE = {"NOTIFIER_SEND_LEASE_SECONDS": "10"}


async def test_one_of_two_routers_and_notifiers_killed_mid_stream(stack: Stack, arrivals: Arrivals) -> None:
    scenario = Scenario("3 two replicas each, one of each SIGKILLed", stack, arrivals)
    await stack.restart("notifier-1", **LEASE)
    await asyncio.gather(stack.start("router-2"), stack.start("notifier-2", **LEASE))
    stream = asyncio.create_task(scenario.sender.stream(scenario.run, ALERTS, rate=100))
    await scenario.until_incidents(ALERTS // 4)
    await scenario.until_arrived("webhook", ALERTS // 8)
    router_killed = stack.kill("router-2")
    notifier_killed = stack.kill("notifier-2")
    incidents_at_kill = sum((await scenario.ledger.incidents(scenario.run)).values())
    assert incidents_at_kill < ALERTS, "the kills must land in the middle of the stream"
    await stream

    assert len(scenario.sender.acknowledged) == ALERTS
    report = await scenario.verify(duplicates_before=notifier_killed + IN_TRANSIT_SECONDS)
    report.notes.append(f"killed after {incidents_at_kill} incidents, {notifier_killed - router_killed:.2f}s apart")
