"""Races between an alert batch and the recheck pass over the same alert, on a database of this module's own, with
the order forced by a lock the test holds (no sleeps, no Kafka, no running router).

A recheck is how an alert held back by a maintenance window (or by a stale trigger) pages once the window is over:
it makes the alert firing in a new or grouped incident. A batch of another replica may hold or change that alert at
the same instant; whichever goes first, one problem is one incident and is paged once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterator
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest

from alertrouter_router import timers
from alertrouter_router.db.pool import connect_arguments, make_pool
from alertrouter_router.ownership.loader import load_config
from alertrouter_router.pipeline import process_batch
from alertrouter_router.state import RouterState
from alertrouter_shared.events import AlertEvent, PageKind
from tests.helpers import DatabaseFactory, eventually
from tests.router.conftest import CONFIG, alert_event
from tests.router.loop_support import T0, handed_over, loop_state, migrated_database, set_clock

WINDOW_END = T0 + timedelta(minutes=5)
AFTER = T0 + timedelta(minutes=10)  # the window is over and the held-back alert's recheck is due


@pytest.fixture(scope="module")
def race_database(databases: DatabaseFactory) -> Iterator[str]:
    yield migrated_database(databases)


@pytest.fixture
async def state(race_database: str) -> AsyncIterator[RouterState]:
    pool = await make_pool(race_database, 6)
    async with pool.acquire() as conn:
        await conn.execute(
            "TRUNCATE router_decision, router_escalation_step, router_outbox, router_timeline, router_alert, "
            "router_incident, router_maintenance_window"
        )
    yield loop_state(pool, SimpleNamespace(current=load_config(CONFIG)))
    await pool.close()


@pytest.fixture
async def holder(race_database: str) -> AsyncIterator[asyncpg.Connection]:  # type: ignore[type-arg]
    conn = await asyncpg.connect(**connect_arguments(race_database))
    yield conn
    await conn.close()


def _event(key: str, labels: dict[str, str], at: datetime, received: datetime | None = None) -> AlertEvent:
    return alert_event(key, labels, occurred_at=at, received_at=received or at)


async def _held_back(state: RouterState, key: str, labels: dict[str, str]) -> None:
    """The alert triggers at T0 while its service is in an API maintenance window until WINDOW_END."""
    async with state.pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO router_maintenance_window (id, service_id, starts_at, ends_at, reason) "
            "VALUES ($1, $2, $3, $4, 'upgrade')",
            str(uuid.uuid4()),
            labels["service"],
            T0 - timedelta(hours=1),
            WINDOW_END,
        )
    set_clock(state, T0)
    effects = await process_batch(state, [_event(key, labels, T0)], now=T0)
    assert [d.outcome for d in effects.decisions] == ["suppressed"], effects.decisions[0].reason


async def _waiting(state: RouterState, wait_events: tuple[str, ...]) -> bool:
    """Another session of this database waits for a lock of one of these kinds (read outside any transaction:
    in one, ``pg_stat_activity`` stays as it was first read)."""
    async with state.pool.acquire() as conn:
        found = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND wait_event_type = 'Lock' AND wait_event = ANY($1::text[])",
            list(wait_events),
        )
    return bool(found)


async def _until_waiting(state: RouterState, wait_events: tuple[str, ...], what: str) -> None:
    await eventually(lambda: _waiting(state, wait_events), timeout=10, interval=0.02, what=what)


async def _finished(task: Awaitable[Any]) -> Any:
    return await asyncio.wait_for(task, 10)


async def _open_incidents(conn: Any, service: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT id FROM router_incident WHERE service_id = $1 AND status <> 'resolved' ORDER BY opened_at", service
    )
    return [r["id"] for r in rows]


async def test_a_trigger_waiting_for_the_alert_a_recheck_pages_is_a_duplicate_of_the_recheck_incident(
    state: RouterState, holder: Any, unique: str
) -> None:
    """The batch's snapshot statement began before the recheck committed and waited for the alert's row: the
    alert it got back points at the incident the recheck opened, which that statement could not see. The trigger
    was taken for a new episode: a second incident, and alice paged twice for one problem (the first incident left
    open for ever, its alert moved away)."""
    key = f"am:test-am:{unique}"
    labels = {"service": "checkout", "alertname": "Down"}
    await _held_back(state, key, labels)
    set_clock(state, AFTER)
    transaction = holder.transaction()
    await transaction.start()
    await holder.execute("LOCK TABLE router_decision IN SHARE MODE")  # the recheck's write waits, its claim held
    recheck = asyncio.create_task(timers.recheck_suppressed(state))
    await _until_waiting(state, ("relation",), "the recheck holding the alert, waiting to write")
    batch = asyncio.create_task(process_batch(state, [_event(key, labels, AFTER)], now=AFTER))
    await _until_waiting(state, ("transactionid", "tuple"), "the batch waiting for the alert's row")
    await transaction.rollback()
    assert await _finished(recheck) == 1
    effects = await _finished(batch)
    async with state.pool.acquire() as conn:
        [incident] = await _open_incidents(conn, "checkout")
        alert = await conn.fetchrow("SELECT status, incident_id FROM router_alert WHERE dedup_key = $1", key)
    assert [(d.outcome, d.incident_id) for d in effects.decisions] == [("duplicate", incident)]
    assert (alert["status"], alert["incident_id"]) == ("firing", incident)
    triggers = [p for p in handed_over(state) if p.dedup_key == key and p.kind is PageKind.TRIGGER]
    assert [(p.user_id, p.incident_id) for p in triggers] == [("alice", incident)]


async def test_a_recheck_of_an_alert_a_batch_moved_to_another_group_joins_that_groups_open_incident(
    state: RouterState, holder: Any, unique: str
) -> None:
    """The recheck pass took its grouping locks for the services of the alerts as it first read them, unlocked. A
    stale trigger of the alert with other labels (kept waiting for its recheck, which stays due) moved it to
    service storm in between: the recheck decided it under the lock of the old service, without the open storm
    incident in its snapshot, and opened a second storm incident beside it (paging alice again for one burst)."""
    key, other = f"am:test-am:{unique}", f"am:test-am:{unique}-storm"
    await _held_back(state, key, {"service": "sharded", "alertname": "Down", "pod": "p1"})
    set_clock(state, AFTER)
    storm = {"service": "storm", "alertname": "Down"}
    opened = await process_batch(state, [_event(other, storm, AFTER)], now=AFTER)
    group = opened.decisions[0].incident_id
    assert group is not None
    transaction = holder.transaction()
    await transaction.start()
    await holder.execute("SELECT pg_advisory_xact_lock(hashtext('group:sharded'))")  # as a batch of sharded would
    recheck = asyncio.create_task(timers.recheck_suppressed(state))
    await _until_waiting(state, ("advisory",), "the recheck waiting for the group lock of service sharded")
    backlog = AFTER - timedelta(minutes=20)  # older than the router takes as fresh: stale, and its recheck kept
    stale = await process_batch(state, [_event(key, storm, backlog, backlog)], now=AFTER)
    assert [d.outcome for d in stale.decisions] == ["suppressed"], stale.decisions[0].reason
    await transaction.rollback()
    await _finished(recheck)
    await timers.recheck_suppressed(state)  # the next pass, for an alert left to it
    async with state.pool.acquire() as conn:
        incidents = await _open_incidents(conn, "storm")
        alert = await conn.fetchrow("SELECT status, incident_id FROM router_alert WHERE dedup_key = $1", key)
    assert incidents == [group]
    assert (alert["status"], alert["incident_id"]) == ("firing", group)
    assert [p for p in handed_over(state) if p.dedup_key == key] == []
