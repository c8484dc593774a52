"""Scenario 6: PostgreSQL restarted (fast shutdown: connections cut, open transactions rolled back) under load.

What must hold: the router's batch transaction rolls back and its offsets stay uncommitted, so the batch is
consumed again; the notifier's intake likewise; a send whose outcome could not be recorded is retried after its
lease -- the documented at-least-once window, so such a page may arrive twice (only if it first arrived before the
database came back). Nothing acknowledged is lost.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.faults.providers import Arrivals
from tests.faults.scenario import Scenario
from tests.faults.stack import Stack

pytestmark = pytest.mark.faults

ALERTS = 300
LEASE = {"NOTIFIER_SEND_LEASE_SECONDS": "15"}
RECORD_RETRY_SECONDS = 5  # the notifier retries writing an outcome for about 2 s before giving up to the lease


async def test_postgres_restarted_under_load(stack: Stack, arrivals: Arrivals) -> None:
    scenario = Scenario("6 PostgreSQL restarted under load", stack, arrivals)
    await stack.restart("notifier-1", **LEASE)
    stream = asyncio.create_task(scenario.sender.stream(scenario.run, ALERTS, rate=50))
    await scenario.until_incidents(ALERTS // 4)
    restart_began = time.time()
    await asyncio.to_thread(stack.postgres.restart)
    restart_took = time.time() - restart_began
    incidents_at_restart = sum((await scenario.ledger.incidents(scenario.run)).values())
    assert incidents_at_restart < ALERTS, "the restart must land in the middle of the load"
    await stream

    assert len(scenario.sender.acknowledged) == ALERTS
    report = await scenario.verify(duplicates_before=restart_began + restart_took + RECORD_RETRY_SECONDS)
    report.notes.append(f"restart took {restart_took:.1f}s after {incidents_at_restart} incidents")
