"""The timer loop against row locks other transactions hold, on a database of its own (so a pass sees only this
module's rows) with a clock the test sets: no Kafka, no running router.

Audit, suspected: a due escalation step whose incident row is locked is skipped (the incident is read with
``FOR UPDATE SKIP LOCKED``) and waits for the next pass. During an alert storm on a grouping service every
consumer batch locks the group's open incident, and with two replicas consuming the batches queue behind each
other: the row is locked nearly all the time, every pass skipped the step, and level 2 was not paged for as long
as the storm lasted. A step skipped that way is now taken in a second transaction that waits (a bounded time)
for the incident's lock, queued behind the batch that holds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import asyncpg
import pytest

from alertrouter_router import drills, timers
from alertrouter_router.db.pool import connect_arguments, make_pool
from alertrouter_router.ownership.loader import load_config
from alertrouter_router.pipeline import process_batch
from alertrouter_router.state import RouterState
from alertrouter_shared.events import AlertEvent, Page, PageKind
from tests.helpers import DatabaseFactory
from tests.router.conftest import CONFIG, alert_event
from tests.router.loop_support import T0, handed_over, loop_state, migrated_database, set_clock

LOCK_WAIT = 0.5  # seconds a pass waits for an incident's lock (ROUTER_TIMER_LOCK_WAIT_SECONDS)


@pytest.fixture(scope="module")
def timer_database(databases: DatabaseFactory) -> Iterator[str]:
    yield migrated_database(databases)


@pytest.fixture
async def state(timer_database: str) -> AsyncIterator[RouterState]:
    """A router process as far as the timer loop and the consumer batch need one (a new one per test: a restart)."""
    pool = await make_pool(timer_database, 6)
    async with pool.acquire() as conn:  # each test starts from an empty routing state
        await conn.execute(
            "TRUNCATE router_decision, router_escalation_step, router_outbox, router_timeline, router_alert, "
            "router_incident"
        )
    yield loop_state(pool, SimpleNamespace(current=load_config(CONFIG)), timer_lock_wait_seconds=LOCK_WAIT)
    await pool.close()


async def _open(state: RouterState, event: AlertEvent, at: datetime) -> str:
    set_clock(state, at)
    effects = await process_batch(state, [event], now=at)
    incident_id = effects.decisions[0].incident_id
    assert incident_id is not None, effects.decisions[0].reason
    return incident_id


def _storm_alert(key: str, at: datetime) -> AlertEvent:
    return alert_event(key, {"service": "storm", "alertname": "Storm"}, occurred_at=at, received_at=at)


async def _step(conn: Any, incident_id: str) -> tuple[str, int] | None:
    row = await conn.fetchrow(
        "SELECT status, level FROM router_escalation_step WHERE incident_id = $1 AND round = 0 AND level = 1",
        incident_id,
    )
    return (row["status"], row["level"]) if row else None


async def _level_two(state: RouterState, incident_id: str) -> list[Page]:
    return [p for p in handed_over(state) if p.incident_id == incident_id and p.escalation_level == 2]


async def test_a_step_whose_incident_is_locked_waits_then_fires_once_the_lock_is_released(
    state: RouterState, timer_database: str, unique: str
) -> None:
    """While another transaction holds the incident the step is neither fired nor marked done; released, it fires
    at the next pass — or in the pass that was waiting for it."""
    incident_id = await _open(state, _storm_alert(f"am:test-am:{unique}", T0), T0)
    set_clock(state, T0 + timedelta(minutes=5, seconds=1))  # level 2 (bob) is due
    holder = await asyncpg.connect(**connect_arguments(timer_database))
    try:
        transaction = holder.transaction()
        await transaction.start()
        await holder.execute("SELECT id FROM router_incident WHERE id = $1 FOR UPDATE", incident_id)
        for _ in range(3):
            started = time.monotonic()
            assert await timers.fire_due_steps(state) == 0
            assert time.monotonic() - started < LOCK_WAIT + 1.0  # the wait is bounded
            assert await _step(holder, incident_id) == ("pending", 1)  # not marked done while skipped
        assert await _level_two(state, incident_id) == []
        waiting = asyncio.create_task(timers.fire_due_steps(state))
        await asyncio.sleep(LOCK_WAIT / 5)
        await transaction.rollback()
        released = time.monotonic()
        assert await asyncio.wait_for(waiting, LOCK_WAIT + 5) == 1  # the waiting pass took it
        assert time.monotonic() - released < LOCK_WAIT
        assert await _step(holder, incident_id) == ("done", 1)
        decided = await holder.fetchval(
            "SELECT count(*) FROM router_decision WHERE step_key = $1 AND outcome = 'paged'", f"{incident_id}:0:1"
        )
        assert decided == 1
    finally:
        await holder.close()
    assert [p.user_id for p in await _level_two(state, incident_id)] == ["bob"]
    assert await timers.fire_due_steps(state) == 0  # once


async def _hold_in_turns(url: str, incident_id: str, hold: float, stop: asyncio.Event, taken: list[int]) -> None:
    """A consumer replica in a storm: batch after batch, each locking the group's incident for ``hold`` seconds."""
    conn = await asyncpg.connect(**connect_arguments(url))
    try:
        while not stop.is_set():
            async with conn.transaction():
                await conn.execute("SELECT id FROM router_incident WHERE id = $1 FOR UPDATE", incident_id)
                taken.append(1)
                await asyncio.sleep(hold)
    finally:
        await conn.close()


async def test_a_storm_that_keeps_the_incident_locked_does_not_hold_up_its_escalation(
    state: RouterState, timer_database: str, unique: str
) -> None:
    """Two replicas' batches lock the grouping incident in turns, back to back (each waits for the row while the
    other holds it), as an alert storm on a grouping service does: the row is never free at a pass's instant. The
    step still goes out within about one batch's lock time, while the storm goes on."""
    incident_id = await _open(state, _storm_alert(f"am:test-am:{unique}", T0), T0)
    set_clock(state, T0 + timedelta(minutes=5, seconds=1))
    stop = asyncio.Event()
    taken: list[int] = []
    storm = [asyncio.create_task(_hold_in_turns(timer_database, incident_id, 0.05, stop, taken)) for _ in range(2)]
    try:
        while len(taken) < 4:  # both replicas are in their stride
            await asyncio.sleep(0.01)
        started = time.monotonic()
        fired = 0
        while not fired and time.monotonic() - started < 5:  # the timer loop: a pass, then the poll interval
            with contextlib.suppress(asyncio.TimeoutError):
                fired = await timers.fire_due_steps(state)
            await asyncio.sleep(0.05)
        during = not any(t.done() for t in storm)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        await asyncio.gather(*storm)
    assert fired == 1 and during, f"level 2 waited {elapsed:.1f}s for a storm ({len(taken)} batches)"
    assert elapsed < 2 * LOCK_WAIT + 0.5
    assert [p.user_id for p in await _level_two(state, incident_id)] == ["bob"]


async def test_retriggers_are_not_held_up_by_a_locked_incident_either(
    state: RouterState, timer_database: str, unique: str
) -> None:
    """An acknowledgement timeout or a snooze running out on the grouping incident of a storm: the same wait."""
    incident_id = await _open(state, _storm_alert(f"am:test-am:{unique}", T0), T0)
    async with state.pool.acquire() as conn:  # snoozed until T0 + 2 min (as the API's snooze leaves it)
        await conn.execute(
            "UPDATE router_incident SET status = 'acknowledged', acknowledged_at = $2, acknowledged_by = 'bob', "
            "retrigger_at = $3 WHERE id = $1",
            incident_id,
            T0 + timedelta(minutes=1),
            T0 + timedelta(minutes=2),
        )
        await conn.execute("UPDATE router_escalation_step SET status = 'cancelled' WHERE incident_id = $1", incident_id)
    set_clock(state, T0 + timedelta(minutes=2, seconds=1))
    stop = asyncio.Event()
    taken: list[int] = []
    storm = [asyncio.create_task(_hold_in_turns(timer_database, incident_id, 0.05, stop, taken)) for _ in range(2)]
    try:
        while len(taken) < 4:
            await asyncio.sleep(0.01)
        started = time.monotonic()
        fired = 0
        while not fired and time.monotonic() - started < 5:
            fired = await timers.retrigger_acknowledged(state)
            await asyncio.sleep(0.05)
        during = not any(t.done() for t in storm)
    finally:
        stop.set()
        await asyncio.gather(*storm)
    assert fired == 1 and during
    again = [p for p in handed_over(state) if p.incident_id == incident_id and p.kind is PageKind.TRIGGER]
    assert [p.user_id for p in again] == ["alice", "alice"]  # paged at the alert, and again after the snooze
    async with state.pool.acquire() as conn:
        assert await conn.fetchval("SELECT status FROM router_incident WHERE id = $1", incident_id) == "triggered"


async def test_a_drill_ends_after_a_restart_from_what_the_database_holds(
    state: RouterState, timer_database: str
) -> None:
    """The drill's time limit is stored with its incident: a process that never saw the drill start ends it, once,
    and leaves a real incident of the same service alone; a pass that finds the drill's incident locked leaves it
    for the next one."""
    run = drills.new_run("checkout", "carol", "", T0, silent=False, minutes=1)
    drill_id = await _open(state, drills.drill_alert(run, "Checkout"), T0)
    real_id = await _open(
        state, alert_event("am:test-am:real-beside-drill", {"service": "checkout"}, occurred_at=T0, received_at=T0), T0
    )

    restarted = cast(RouterState, SimpleNamespace(**vars(state)))
    restarted.pool = await make_pool(timer_database, 2)
    holder = await asyncpg.connect(**connect_arguments(timer_database))
    try:
        set_clock(restarted, T0 + timedelta(seconds=59))
        assert await timers.end_drills(restarted) == 0  # not yet
        set_clock(restarted, T0 + timedelta(minutes=1))
        async with holder.transaction():
            await holder.execute("SELECT id FROM router_incident WHERE id = $1 FOR UPDATE", drill_id)
            assert await timers.end_drills(restarted) == 0  # skipped while another transaction holds it
        assert await timers.end_drills(restarted) == 1
        assert await timers.end_drills(restarted) == 0
        rows = {
            r["id"]: (r["status"], r["resolved_by"])
            for r in await holder.fetch(
                "SELECT id, status, resolved_by FROM router_incident WHERE id = ANY($1::text[])", [drill_id, real_id]
            )
        }
        assert rows == {drill_id: ("resolved", "router:drill-time-limit"), real_id: ("triggered", None)}
        pending = await holder.fetchval(
            "SELECT count(*) FROM router_escalation_step WHERE incident_id = $1 AND status = 'pending'", drill_id
        )
        alert = await holder.fetchval("SELECT status FROM router_alert WHERE dedup_key = $1", run.dedup_key)
        reasons = await holder.fetch(
            "SELECT outcome, reason FROM router_decision WHERE step_key = $1", f"{drill_id}:drill-end"
        )
        assert (pending, alert) == (0, "resolved")
        assert [r["outcome"] for r in reasons] == ["resolved"]
        assert reasons[0]["reason"].startswith("drill ended: time limit")
    finally:
        await holder.close()
        await restarted.pool.close()
