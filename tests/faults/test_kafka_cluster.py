"""Scenario 4: a 3-broker cluster (replication factor 3, min.insync.replicas 2); one broker is SIGKILLed while
ingest is taking alerts, and brought back.

What must hold: with two in-sync replicas left, ``acks=all`` writes still succeed once the partition leaders
move (a request caught in the move is refused with 503 and retried by the sender, never half-acknowledged);
consumers find the new leaders and group coordinator; the restarted broker catches up. Nothing acknowledged is lost.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.faults.providers import Arrivals
from tests.faults.scenario import Scenario
from tests.faults.stack import Stack

pytestmark = pytest.mark.faults

ALERTS = 400
KILLED_NODE = 1
DOWN_SECONDS = 5


async def test_one_of_three_brokers_killed_during_ingest(cluster_stack: Stack, arrivals: Arrivals) -> None:
    stack = cluster_stack
    scenario = Scenario("4 one of 3 brokers SIGKILLed during ingest", stack, arrivals)
    stream = asyncio.create_task(scenario.sender.stream(scenario.run, ALERTS, rate=50))
    await scenario.until_acknowledged(ALERTS // 4)
    await asyncio.to_thread(stack.kafka.kill_node, KILLED_NODE)
    killed_at = time.monotonic()
    acknowledged_at_kill = len(scenario.sender.acknowledged)
    await scenario.until_acknowledged(acknowledged_at_kill + 50, timeout=60)  # ingest goes on with two brokers
    await asyncio.sleep(max(0.0, killed_at + DOWN_SECONDS - time.monotonic()))  # hold the broker down
    await asyncio.to_thread(stack.kafka.start_node, KILLED_NODE)
    await stream

    assert len(scenario.sender.acknowledged) == ALERTS
    report = await scenario.verify()
    refused = {code: n for code, n in scenario.sender.statuses.items() if code != 202}
    report.notes.append(f"killed after {acknowledged_at_kill} acknowledged; refusals retried by the sender: {refused}")
