"""Scenario 9: the same 500 alerts replayed 10 times (an Alertmanager re-sending its groups, a retried batch).

What must hold: every repeat is decided as a duplicate of the open incident (one decision per event, so the
replays are visible), and no repeat opens an incident or pages anyone.
"""

from __future__ import annotations

import pytest

from tests.faults.providers import Arrivals
from tests.faults.scenario import Scenario
from tests.faults.stack import Stack
from tests.helpers import eventually

pytestmark = pytest.mark.faults

ALERTS = 500
REPLAYS = 10


async def test_replaying_the_same_alerts_adds_no_incident_and_no_page(stack: Stack, arrivals: Arrivals) -> None:
    scenario = Scenario("9 the same 500 alerts replayed 10 times", stack, arrivals)
    batches = scenario.sender.batches(scenario.run, range(ALERTS), 50)
    await scenario.sender.burst(batches)
    await scenario.until_incidents(ALERTS, timeout=90)
    for _ in range(REPLAYS):
        await scenario.sender.burst(batches)
    assert scenario.sender.statuses[202] == len(batches) * (REPLAYS + 1)

    async def all_decided() -> bool:
        return sum((await scenario.ledger.decisions(scenario.run)).values()) >= ALERTS * (REPLAYS + 1)

    await eventually(all_decided, timeout=180, interval=0.5, what="a decision for every replayed event")
    report = await scenario.verify()
    decisions = await scenario.ledger.decisions(scenario.run)
    assert decisions == {"paged": ALERTS, "duplicate": ALERTS * REPLAYS}, decisions
    report.notes.append(f"decisions {dict(decisions)}")
