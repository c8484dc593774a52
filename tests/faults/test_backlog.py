"""Scenario 8: a backlog -- the notifier is stopped for longer than the maximum page age, then started.

What must hold: pages that waited longer than the maximum age are reported as ``expired`` (delivery record, and the
incident's timeline through the deliveries topic) and never sent; this includes SMS pages that were already being
retried when the notifier stopped. Pages younger than the maximum age are delivered as usual.

A second test drains a backlog that takes longer to send than the send lease (800 pages, an SMS provider taking
1 s per message): the lease exists to detect crashed senders, so a live notifier working through its queue must
still send every page exactly once.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.faults.providers import Arrivals, Phase
from tests.faults.scenario import Scenario
from tests.faults.stack import API_TOKEN, Stack
from tests.helpers import eventually

pytestmark = pytest.mark.faults

MAX_AGE = 20
SHORT_AGE = {"NOTIFIER_MAX_PAGE_AGE_SECONDS": str(MAX_AGE)}
RETRYING, STALE, FRESH = range(0, 20), range(20, 120), range(120, 140)


async def test_stale_pages_are_reported_expired_not_sent(stack: Stack, arrivals: Arrivals) -> None:
    scenario = Scenario("8 backlog older than the maximum page age", stack, arrivals)
    sender, run = scenario.sender, scenario.run
    await stack.restart("notifier-1", **SHORT_AGE)
    stack.providers.twilio.timeline.set(Phase(seconds=600, status=500))
    await sender.burst(sender.batches(run, RETRYING, 20))

    async def sms_retrying_webhooks_sent() -> bool:
        """Only the SMS are left to go stale: the first alerts' webhook pages must be delivered before the stop
        (under load the notifier can still be sending some of them when every SMS was refused once)."""
        refused = {f for f, r in stack.providers.twilio.sms_requests() if f.startswith(run) and r.status == 500}
        hooked = {a.fault_id for a in arrivals.of_run(run) if a.channel == "webhook"}
        return len(refused) == len(RETRYING) and len(hooked) == len(RETRYING)

    await eventually(
        sms_retrying_webhooks_sent, timeout=30, what="every SMS of the first alerts refused once, every webhook sent"
    )
    await stack.stop("notifier-1")
    await sender.burst(sender.batches(run, STALE, 50))
    await scenario.until_incidents(len(RETRYING) + len(STALE))
    published_at = await _all_pages_published(scenario, 2 * (len(RETRYING) + len(STALE)))
    await asyncio.sleep(max(0.0, published_at + MAX_AGE + 2 - time.time()))  # hold the outage past the maximum age
    stack.providers.reset()
    await stack.start("notifier-1", **SHORT_AGE)
    await sender.burst(sender.batches(run, FRESH, 20))

    stale = {(f"{run}-{i:05d}", channel) for i in STALE for channel in ("webhook", "sms")}
    retried = {(f"{run}-{i:05d}", "sms") for i in RETRYING}
    report = await scenario.verify(max_page_age=MAX_AGE, expired=stale | retried)
    await _expired_on_the_timeline(stack, scenario)
    report.notes.append(f"{len(stale)} queued and {len(retried)} retrying pages went stale")


async def _all_pages_published(scenario: Scenario, count: int) -> float:
    async def published() -> bool:
        progress = await scenario.ledger.progress(scenario.run)
        return progress["pages"] >= count and progress["unpublished"] == 0

    await eventually(published, timeout=60, interval=0.2, what=f"{count} pages published by the router")
    return time.time()


async def _expired_on_the_timeline(stack: Stack, scenario: Scenario) -> None:
    """The notifier reports the expiry on the deliveries topic; the router joins it to the incident's timeline."""
    incident = (await scenario.ledger.incident_ids(scenario.run))[f"{scenario.run}-{STALE.start:05d}"]
    headers = {"Authorization": f"Bearer {API_TOKEN}"}

    async def expired_entries() -> list[object] | None:
        async with httpx.AsyncClient(timeout=5) as client:
            answer = await client.get(f"{stack.url('router-1')}/v1/incidents/{incident}", headers=headers)
        if answer.status_code == 503:  # the router sheds a read while its database is busy: ask again
            return None
        assert answer.status_code == 200, answer.text
        return [e for e in answer.json()["timeline"] if e["kind"] == "delivery" and e.get("status") == "expired"]

    entries = await eventually(expired_entries, timeout=30, what="expired deliveries on the incident timeline")
    assert len(entries) == 2


LEASE_SECONDS = 5
BACKLOG = 400


async def test_a_backlog_longer_than_the_send_lease_sends_every_page_once(stack: Stack, arrivals: Arrivals) -> None:
    scenario = Scenario("8b backlog longer than the send lease", stack, arrivals)
    # a lease above the HTTP timeout, so no single send can outlive it: only waiting in the queue can
    short_lease = {"NOTIFIER_SEND_LEASE_SECONDS": str(LEASE_SECONDS), "NOTIFIER_HTTP_TIMEOUT_SECONDS": "3"}
    await stack.stop("notifier-1")
    await scenario.sender.burst(scenario.sender.batches(scenario.run, range(BACKLOG), 50))
    await scenario.until_incidents(BACKLOG, timeout=90)
    await _all_pages_published(scenario, 2 * BACKLOG)
    stack.providers.twilio.timeline.set(Phase(seconds=600, delay=1.0))  # a slow but healthy SMS provider
    await stack.start("notifier-1", **short_lease)
    started = time.time()
    report = await scenario.verify()
    drained = time.time() - started
    report.notes.append(f"backlog of {2 * BACKLOG} pages drained in {drained:.0f}s, lease {LEASE_SECONDS}s")
