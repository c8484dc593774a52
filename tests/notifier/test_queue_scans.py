"""The queue's statements stay cheap as sent deliveries pile up.

Every delivery is written ``sending`` (claimed) and then updated to its outcome; no update of a delivery is HOT,
so the 'sending' range of ix_notifier_delivery_due keeps a dead entry for every delivery sent since the last vacuum.
A statement that walks that range on every call (the outcome write, the claims) read tens of millions of entries
in one benchmark run. These tests build that state (2,000 deliveries sent, five in flight, autovacuum off, plans
forced generic as after a pooled connection's first executions) and count what each statement reads.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from alertrouter_notifier.db.claims import claim_due
from alertrouter_notifier.db.connections import autocommit
from alertrouter_notifier.db.ledger import AttemptRecord, ClaimedDelivery, Outcome, store_outcomes
from alertrouter_notifier.db.migrate import upgrade_to_head
from alertrouter_notifier.intake import admit_pages
from alertrouter_notifier.policy import DeliveryPolicy
from alertrouter_shared.database import make_engine
from alertrouter_shared.events import ContactMethodType, DeliveryStatus
from tests.helpers import DatabaseFactory
from tests.notifier.conftest import PageFactory, SettingsFactory

SENT = AttemptRecord(DeliveryStatus.SENT, provider="webhook", provider_status_code="200", latency_ms=3.0)


@dataclass
class Queue:
    engine: AsyncEngine
    policy: DeliveryPolicy
    in_flight: list[ClaimedDelivery]
    now: datetime


@pytest.fixture
async def queue(
    databases: DatabaseFactory, make_settings: SettingsFactory, make_page: PageFactory
) -> AsyncIterator[Queue]:
    url = databases.create()
    await asyncio.to_thread(upgrade_to_head, url, 30)
    await _commit_synchronously(url)
    policy = DeliveryPolicy.from_settings(make_settings(database_url=url))
    engine = make_engine(url, pool_size=1)
    try:
        pages = [make_page(ContactMethodType.WEBHOOK, "http://receiver.test/hook") for _ in range(2_000)]
        now = pages[-1].send_at  # every page due
        async with engine.begin() as conn:
            await conn.execute(text("ALTER TABLE notifier_delivery SET (autovacuum_enabled = false)"))
            claimed = (await admit_pages(conn, pages, now, policy, send_slots=len(pages))).claimed
        async with autocommit(engine) as conn:
            await store_outcomes(conn, [Outcome(c, SENT, None, 0) for c in claimed[:-5]], now)
            await conn.execute(text("ANALYZE notifier_delivery"))
        assert len(claimed) == 2_000
        yield Queue(engine, policy, claimed[-5:], now)
    finally:
        await engine.dispose()


async def _commit_synchronously(url: str) -> None:
    """As in production. A scan clears a dead index entry only once the hint bits of its row are set, which waits
    for the commit to be flushed; the test cluster commits asynchronously."""
    engine = make_engine(url, pool_size=1)
    try:
        async with autocommit(engine) as conn:
            database = (await conn.execute(text("SELECT current_database()"))).scalar_one()
            await conn.execute(text(f'ALTER DATABASE "{database}" SET synchronous_commit = on'))
    finally:
        await engine.dispose()


async def _generic_plans(conn: AsyncConnection) -> None:
    await conn.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))


@dataclass
class Reads:
    """Scans of an index and the index entries they returned."""

    scans: int
    entries: int


@asynccontextmanager
async def counting(conn: AsyncConnection, index: str) -> AsyncIterator[Reads]:
    """What the statements inside the block read from ``index`` (PostgreSQL's counters not yet flushed to the
    statistics span earlier transactions of the connection, so the block counts a difference)."""
    statement = text(
        "SELECT pg_stat_get_xact_numscans(CAST(:i AS regclass)), pg_stat_get_xact_tuples_returned(CAST(:i AS regclass))"
    )
    reads = Reads(0, 0)
    before = (await conn.execute(statement, {"i": index})).one()
    yield reads
    after = (await conn.execute(statement, {"i": index})).one()
    reads.scans, reads.entries = after[0] - before[0], after[1] - before[1]


async def test_the_outcome_write_finds_its_deliveries_by_primary_key(queue: Queue) -> None:
    """The outcome write's fence must not reach its rows through the status index (see ledger._STORE)."""
    async with queue.engine.begin() as conn:
        await _generic_plans(conn)
        async with (
            counting(conn, "ix_notifier_delivery_due") as status_index,
            counting(conn, "notifier_delivery_pkey") as primary_key,
        ):
            stored = await store_outcomes(conn, [Outcome(c, SENT, None, 0) for c in queue.in_flight], queue.now)
    assert len(stored) == 5
    assert status_index.scans == 0, "the outcome write scanned the status index"
    assert primary_key.scans > 0


async def test_the_claims_do_not_walk_the_dead_entries_of_sent_deliveries(queue: Queue) -> None:
    """The retry worker's claim of due deliveries (every poll and wake-up) reads nothing of the 'sending' range;
    the claim of abandoned deliveries (every few seconds) reads it once, clearing the dead entries as it goes;
    the claim of given deliveries (the fast lane) goes by primary key."""
    lease = queue.policy.send_lease
    async with queue.engine.begin() as conn:
        await _generic_plans(conn)
        async with counting(conn, "ix_notifier_delivery_due") as queued:
            for _ in range(3):
                assert await claim_due(conn, queue.now, queue.now + lease, 100) == []
    assert queued.entries < 10, f"the due claim read {queued.entries} status index entries, nothing being due"

    ran_out = queue.now + lease + lease
    abandoned: list[Reads] = []
    taken: list[ClaimedDelivery] = []
    for _ in range(2):
        async with queue.engine.begin() as conn:
            await _generic_plans(conn)
            async with counting(conn, "ix_notifier_delivery_due") as reads:
                taken += await claim_due(conn, ran_out, ran_out + lease, 100, abandoned=True)
            abandoned.append(reads)
    assert sorted(c.id for c in taken) == sorted(c.id for c in queue.in_flight)
    assert abandoned[0].entries >= 2_000  # the dead entries, met once ...
    assert abandoned[1].entries < 200, f"the abandoned claim read {abandoned[1].entries} entries again"  # cleared

    later = ran_out + lease + lease
    async with queue.engine.begin() as conn:
        await _generic_plans(conn)
        async with (
            counting(conn, "ix_notifier_delivery_due") as status_index,
            counting(conn, "notifier_delivery_pkey") as primary_key,
        ):
            again = await claim_due(conn, later, later + lease, 100, [c.id for c in taken])
    assert len(again) == 5
    assert status_index.scans == 0, "the claim by ids scanned the status index"
    assert primary_key.scans > 0
