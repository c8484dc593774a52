"""Scenario 2: the notifier is SIGKILLed while webhook sends are in flight and SMS retries are pending.

What must hold: a page admitted from Kafka is in the durable queue (its offset was committed after the delivery
row), so nothing is lost. A send in flight at the kill had reached the provider without its outcome being recorded:
after the lease it is sent again -- the one documented double-send window -- so those pages may arrive twice,
and only pages whose first copy arrived before the kill. Pending retries resume after the restart.
"""

from __future__ import annotations

import pytest

from tests.faults.providers import Arrivals, Phase
from tests.faults.scenario import Scenario
from tests.faults.stack import Stack
from tests.faults.verify import IN_TRANSIT_SECONDS
from tests.helpers import eventually

pytestmark = pytest.mark.faults

ALERTS = 120
LEASE = {"NOTIFIER_SEND_LEASE_SECONDS": "10"}  # above the 5 s HTTP timeout: no live send outlives its lease


async def test_notifier_sigkilled_with_sends_in_flight_and_retries_pending(stack: Stack, arrivals: Arrivals) -> None:
    scenario = Scenario("2 notifier SIGKILL, sends in flight + retries pending", stack, arrivals)
    await stack.restart("notifier-1", **LEASE)
    stack.providers.capture.timeline.set(Phase(seconds=600, delay=3.0))  # each webhook send stays in flight 3 s
    stack.providers.twilio.timeline.set(Phase(seconds=600, status=500))  # each SMS fails and is retried
    sender = scenario.sender
    await sender.burst(sender.batches(scenario.run, range(ALERTS), 20))

    async def in_flight_and_retrying() -> bool:
        sms = stack.providers.twilio.sms_requests()
        refused = [r for f, r in sms if f.startswith(scenario.run) and r.status == 500]
        webhooks = [a for a in arrivals.of_run(scenario.run) if a.channel == "webhook"]
        return len(refused) >= 20 and len(webhooks) >= 20

    await eventually(in_flight_and_retrying, timeout=60, what="webhook sends in flight and SMS retries pending")
    killed_at = stack.kill("notifier-1")
    in_flight = sum(1 for a in arrivals.of_run(scenario.run) if a.channel == "webhook" and a.at > killed_at - 3.0)
    stack.providers.reset()
    await stack.start("notifier-1", **LEASE)

    assert len(sender.acknowledged) == ALERTS
    report = await scenario.verify(duplicates_before=killed_at + IN_TRANSIT_SECONDS)
    report.notes.append(f"about {in_flight} webhook sends in flight at the kill")
