"""Scenario 7: the SMS provider answers 500 for 30 s, then 429 with Retry-After for 10 s, then recovers.

What must hold: SMS deliveries are retried with backoff (and never sooner than the provider's Retry-After), other
channels are not held up, and once the provider recovers every SMS is delivered exactly once.
"""

from __future__ import annotations

import time

import pytest

from tests.faults.providers import Arrivals, Phase
from tests.faults.scenario import Scenario
from tests.faults.stack import Stack

pytestmark = pytest.mark.faults

ALERTS = 60
OUTAGE_SECONDS = 30
THROTTLED_SECONDS = 10
RETRY_AFTER = 3
ATTEMPTS = "alertrouter_notifier_attempts_total"


async def test_sms_provider_500_then_429_then_recovers(stack: Stack, arrivals: Arrivals) -> None:
    scenario = Scenario("7 SMS provider 500 30 s, 429 10 s, recovers", stack, arrivals)
    twilio = stack.providers.twilio
    outage_began = time.time()
    twilio.timeline.set(
        Phase(seconds=OUTAGE_SECONDS, status=500),
        Phase(seconds=THROTTLED_SECONDS, status=429, retry_after=RETRY_AFTER),
    )
    await scenario.sender.burst(scenario.sender.batches(scenario.run, range(ALERTS), 20))
    await scenario.until_arrived("webhook", ALERTS, timeout=OUTAGE_SECONDS)
    assert time.time() < outage_began + OUTAGE_SECONDS, "webhook pages must not wait for the SMS provider"

    report = await scenario.verify()
    requests = sorted((r.at, fault, r.status) for fault, r in twilio.sms_requests() if fault.startswith(scenario.run))
    assert any(status == 500 for _, _, status in requests) and any(status == 429 for _, _, status in requests)
    accepted = [at for at, _, status in requests if status == 201]
    assert min(accepted) >= outage_began + OUTAGE_SECONDS, "an SMS was accepted during the outage"
    assert not _too_early_after_429(requests), "a retry came sooner than the provider's Retry-After"
    refused = sum(1 for _, _, status in requests if status in (429, 500))
    transient = await stack.metric("notifier-1", ATTEMPTS, channel="sms", outcome="transient")
    assert transient >= refused, "every refused SMS attempt is counted as a transient attempt"
    report.notes.append(f"{refused} SMS attempts refused, {transient:.0f} transient attempts counted")


def _too_early_after_429(requests: list[tuple[float, str, int]]) -> list[str]:
    last: dict[str, tuple[float, int]] = {}
    early = []
    for at, fault, status in requests:
        previous = last.get(fault)
        if previous and previous[1] == 429 and at < previous[0] + RETRY_AFTER - 0.2:
            early.append(f"{fault}: {at - previous[0]:.1f}s after a 429")
        last[fault] = (at, status)
    return early
