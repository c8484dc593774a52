"""History past ROUTER_RETENTION_DAYS is deleted by the timer pass; nothing newer, and nothing a live alert still
needs. On a database of the module's own with a clock the test sets (the consumer batch and the timer pass called
as the router's loops call them)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest

from alertrouter_router.db import snapshot_reads
from alertrouter_router.db.pool import make_pool
from alertrouter_router.decisions.decide import ManualAction
from alertrouter_router.decisions.maintenance import Maintenance
from alertrouter_router.history import prune_history
from alertrouter_router.ownership.loader import load_config
from alertrouter_router.pipeline import process_batch
from alertrouter_router.settings import RouterSettings
from alertrouter_router.state import RouterState
from alertrouter_router.work import run_unit
from alertrouter_shared.events import AlertAction, AlertEvent
from tests.helpers import DatabaseFactory
from tests.router.conftest import CONFIG, alert_event
from tests.router.loop_support import T0, loop_state, migrated_database, set_clock

NOW = T0 + timedelta(days=31)  # with 30 days kept, the cutoff is T0 + 1 day


@pytest.fixture(scope="module")
def retention_database(databases: DatabaseFactory) -> Iterator[str]:
    yield migrated_database(databases)


@pytest.fixture
async def state(retention_database: str) -> AsyncIterator[RouterState]:
    pool = await make_pool(retention_database, 4)
    state = loop_state(pool, SimpleNamespace(current=load_config(CONFIG)), retention_days=30, audit_retention_days=0)
    state.history_pruned_at = None
    yield state
    await pool.close()


async def _rows(state: RouterState, incident_id: str, key: str) -> dict[str, int]:
    async with state.pool.acquire() as conn:
        counts = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM router_incident WHERE id = $1) AS incident, "
            "(SELECT count(*) FROM router_decision WHERE incident_id = $1) AS decisions, "
            "(SELECT count(*) FROM router_outbox WHERE incident_id = $1) AS pages, "
            "(SELECT count(*) FROM router_escalation_step WHERE incident_id = $1) AS steps, "
            "(SELECT count(*) FROM router_alert WHERE dedup_key = $2) AS alert",
            incident_id,
            key,
        )
    assert counts is not None
    return dict(counts)


async def test_history_past_the_retention_goes_and_what_is_newer_or_still_firing_stays(
    state: RouterState, unique: str
) -> None:
    old, new, unrouted = (f"am:test-am:{unique}-{name}" for name in ("old", "new", "unrouted"))
    opened = await process_batch(state, [alert_event(old, {"service": "checkout"}, occurred_at=T0, received_at=T0)])
    old_incident = opened.decisions[0].incident_id
    ended = T0 + timedelta(hours=1)
    set_clock(state, ended)
    resolve = alert_event(old, {"service": "checkout"}, AlertAction.RESOLVE, occurred_at=ended, received_at=ended)
    await process_batch(state, [resolve], now=ended)
    unrouted_event = alert_event(unrouted, {"service": "nowhere"}, occurred_at=T0, received_at=T0)
    assert (await process_batch(state, [unrouted_event], now=T0)).decisions[0].outcome.value == "no_route"
    later = T0 + timedelta(days=2)  # after the cutoff: kept
    opened = await process_batch(
        state, [alert_event(new, {"service": "checkout"}, occurred_at=later, received_at=later)], now=later
    )
    new_incident = opened.decisions[0].incident_id
    assert old_incident and new_incident
    before = await _rows(state, old_incident, old)
    assert before["incident"] == 1 and before["decisions"] >= 2 and before["pages"] >= 1 and before["alert"] == 1

    set_clock(state, NOW)
    for _ in range(10):  # one batch per timer poll, until a batch finds nothing
        assert await prune_history(state) == 0  # the timer loop goes on to its other passes at once
        if state.history_pruned_at is not None:
            break
    assert state.history_pruned_at == NOW
    assert await _rows(state, old_incident, old) == {"incident": 0, "decisions": 0, "pages": 0, "steps": 0, "alert": 0}
    kept = await _rows(state, new_incident, new)
    assert kept["incident"] == 1 and kept["decisions"] >= 1 and kept["alert"] == 1
    async with state.pool.acquire() as conn:
        unrouted_decisions = await conn.fetchval("SELECT count(*) FROM router_decision WHERE dedup_key = $1", unrouted)
        unrouted_alert = await conn.fetchval("SELECT status FROM router_alert WHERE dedup_key = $1", unrouted)
    assert unrouted_decisions == 0  # "no route" of a month ago: gone
    assert unrouted_alert not in (None, "resolved")  # still firing: its row is its deduplication, kept
    # the pruned alert firing again is a new alert: it opens an incident and pages, as any first trigger does
    again = await process_batch(
        state, [alert_event(old, {"service": "checkout"}, occurred_at=NOW, received_at=NOW)], now=NOW
    )
    assert again.decisions[0].outcome.value == "paged" and again.decisions[0].incident_id not in (None, old_incident)
    state.history_pruned_at = NOW - timedelta(minutes=59)  # within the hour: no new round, nothing read
    late = f"am:test-am:{unique}-late"
    await process_batch(state, [alert_event(late, {"service": "nowhere"}, occurred_at=T0, received_at=T0)], now=T0)
    await prune_history(state)
    async with state.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM router_decision WHERE dedup_key = $1", late) == 1


async def test_an_incident_a_person_resolved_is_kept_while_its_source_still_reports_the_alert(
    state: RouterState, unique: str
) -> None:
    """Alertmanager repeats a firing alert with its start time as the event's time, so the alert's last_event_at
    never moves: a month after a person resolved its incident, while Alertmanager still reported it firing (each
    repeat decided "already resolved"), retention deleted the incident and the alert, and the next repeat opened a
    new incident and paged again for the same problem."""
    key = f"am:test-am:{unique}"

    def firing(received: datetime) -> AlertEvent:
        event = alert_event(key, {"service": "checkout"}, occurred_at=T0, received_at=received)
        return event.model_copy(update={"episode_started_at": T0})

    opened = await process_batch(state, [firing(T0)], now=T0)
    incident = opened.decisions[0].incident_id
    assert incident is not None and opened.decisions[0].outcome.value == "paged"
    by_hand = T0 + timedelta(hours=1)
    async with state.pool.acquire() as conn, conn.transaction():
        snapshot = await snapshot_reads.for_incident(conn, incident)
        action = ManualAction(incident, "resolve", "alice")
        await run_unit(conn, [action], snapshot, Maintenance(), state.configs.current, by_hand, state.rules)
    for days in (10, 20, 30):  # Alertmanager's repeats of the episode: already resolved, no page
        repeat = await process_batch(state, [firing(T0 + timedelta(days=days))], now=T0 + timedelta(days=days))
        assert repeat.decisions[0].outcome.value == "suppressed" and not repeat.pages

    set_clock(state, NOW)
    for _ in range(10):
        await prune_history(state)
        if state.history_pruned_at is not None:
            break
    assert (await _rows(state, incident, key))["incident"] == 1  # still heard from: kept
    again = await process_batch(state, [firing(NOW)], now=NOW)
    assert again.decisions[0].outcome.value == "suppressed" and not again.pages  # not paged a second time


async def test_nothing_is_deleted_unless_a_retention_is_set(state: RouterState, unique: str) -> None:
    key = f"am:test-am:{unique}"
    opened = await process_batch(state, [alert_event(key, {"service": "checkout"}, occurred_at=T0, received_at=T0)])
    incident = opened.decisions[0].incident_id
    assert incident is not None
    resolve = alert_event(key, {"service": "checkout"}, AlertAction.RESOLVE, occurred_at=T0, received_at=T0)
    await process_batch(state, [resolve], now=T0)
    state.settings.retention_days = 0  # type: ignore[misc]
    set_clock(state, NOW + timedelta(days=3650))
    assert await prune_history(state) == 0
    assert (await _rows(state, incident, key))["incident"] == 1


async def test_the_audit_trail_has_a_retention_of_its_own(state: RouterState) -> None:
    """The audit trail grew for ever: ROUTER_AUDIT_RETENTION_DAYS deletes entries older than it (at least a year),
    also with the history's retention off, and nothing newer."""
    async with state.pool.acquire() as conn:
        await conn.execute("DELETE FROM router_audit")
        await conn.executemany(
            "INSERT INTO router_audit (at, actor, action, target_type, target_id) "
            "VALUES ($1, 'alice', $2, 'incident', 'i')",
            [(T0, "incident.acknowledge"), (T0 + timedelta(days=400), "incident.resolve")],
        )
    state.settings.retention_days = 0  # type: ignore[misc]
    state.settings.audit_retention_days = 365  # type: ignore[misc]
    set_clock(state, T0 + timedelta(days=500))
    await prune_history(state)
    async with state.pool.acquire() as conn:
        kept = [r["action"] for r in await conn.fetch("SELECT action FROM router_audit ORDER BY seq")]
    assert kept == ["incident.resolve"]


@pytest.mark.parametrize(("days", "accepted"), [(0, True), (30, False), (364, False), (365, True)])
def test_an_audit_retention_is_none_or_at_least_a_year(days: int, accepted: bool) -> None:
    if accepted:
        assert RouterSettings(audit_retention_days=days).audit_retention_days == days
    else:
        with pytest.raises(ValueError, match="at least 365 days"):
            RouterSettings(audit_retention_days=days)
