"""A firing alert no rule routed pages once a configuration change routes it, on a database of its own with a clock
the test sets: the files changed, the holder reloaded them, the process kept the version (``keep_loaded``, which
marks the unrouted alerts due), the timer pass rechecked them -- each called as the router's loops call them.

Before, the alert stayed "no route" until its next trigger: an Alertmanager alert's repeat, hours later by default;
a CloudWatch alarm, sent once per state change, never paged."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from alertrouter_router import timers
from alertrouter_router.config_state import ConfigHolder
from alertrouter_router.config_watch import keep_loaded
from alertrouter_router.db.pool import make_pool
from alertrouter_router.pipeline import process_batch
from alertrouter_router.state import RouterState
from tests.helpers import DatabaseFactory
from tests.router.conftest import CONFIG, alert_event
from tests.router.loop_support import T0, handed_over, loop_state, migrated_database, set_clock

BILLING_RULE = """\
route_rules:
  - id: billing
    service: checkout
    match: [{label: service, op: "=", value: billing}]
"""


@pytest.fixture(scope="module")
def unrouted_database(databases: DatabaseFactory) -> Iterator[str]:
    yield migrated_database(databases)


@pytest.fixture
async def state(unrouted_database: str, tmp_path: Path) -> AsyncIterator[RouterState]:
    folder = tmp_path / "config"
    folder.mkdir()
    shutil.copy(CONFIG, folder / "ownership.yaml")
    pool = await make_pool(unrouted_database, 4)
    configs = ConfigHolder.load(str(folder))
    yield loop_state(pool, configs, timer_lock_wait_seconds=0.5, unrouted_recheck_hours=24)
    await pool.close()


async def _alert(state: RouterState, key: str) -> dict[str, object]:
    async with state.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT status, suppressed_by, recheck_at, incident_id FROM router_alert WHERE dedup_key = $1", key
        )
    assert row is not None
    return dict(row)


async def _reload_with_billing_rule(state: RouterState, at: datetime) -> None:
    (Path(state.configs.path) / "billing.yaml").write_text(BILLING_RULE, encoding="utf-8")
    state.configs.reload("watch", "client:watch")
    set_clock(state, at)
    await keep_loaded(state)


async def test_an_unrouted_alert_pages_after_a_reload_that_routes_it(state: RouterState, unique: str) -> None:
    await keep_loaded(state)  # the startup load, kept as the router does before its loops run
    key = f"am:test-am:{unique}"
    event = alert_event(key, {"service": "billing", "alertname": "Down"}, occurred_at=T0, received_at=T0)
    effects = await process_batch(state, [event], now=T0)
    assert [d.outcome.value for d in effects.decisions] == ["no_route"]

    later = T0 + timedelta(minutes=30)
    await _reload_with_billing_rule(state, later)
    assert (await _alert(state, key))["recheck_at"] == later
    assert await timers.recheck_suppressed(state) == 1

    async with state.pool.acquire() as conn:
        decision = await conn.fetchrow(
            "SELECT kind, outcome, reason, service_id, config_version, incident_id FROM router_decision "
            "WHERE dedup_key = $1 ORDER BY seq DESC LIMIT 1",
            key,
        )
    assert decision is not None
    assert (decision["kind"], decision["outcome"], decision["service_id"]) == ("recheck", "paged", "checkout")
    assert decision["reason"].startswith("now routable: paged level 1"), decision["reason"]
    assert decision["config_version"] == state.configs.current.version
    pages = [p for p in handed_over(state) if p.incident_id == decision["incident_id"]]
    assert {p.user_id for p in pages} == {"alice"}
    assert await _alert(state, key) == {
        "status": "firing",
        "suppressed_by": None,
        "recheck_at": None,
        "incident_id": decision["incident_id"],
    }
    async with state.pool.acquire() as conn:  # this module's database: nothing else reads it, but end what began
        ended = await conn.execute(
            "UPDATE router_incident SET status = 'resolved', resolved_at = $2 WHERE id = $1",
            decision["incident_id"],
            later,
        )
        await conn.execute(
            "UPDATE router_escalation_step SET status = 'cancelled' WHERE incident_id = $1 AND status = 'pending'",
            decision["incident_id"],
        )
    assert ended == "UPDATE 1"


async def test_an_alert_unheard_of_for_longer_than_the_window_is_left_alone(state: RouterState, unique: str) -> None:
    """A source that went quiet a day ago may be gone with its problem: a reload does not wake someone for it."""
    await keep_loaded(state)  # the startup load, kept as the router does before its loops run
    key = f"am:test-am:{unique}"
    event = alert_event(key, {"service": "billing", "alertname": "Down"}, occurred_at=T0, received_at=T0)
    await process_batch(state, [event], now=T0)

    await _reload_with_billing_rule(state, T0 + timedelta(hours=25))
    assert await _alert(state, key) == {
        "status": "suppressed",
        "suppressed_by": "no_route",
        "recheck_at": None,
        "incident_id": None,
    }


async def test_a_replica_still_on_the_old_version_leaves_the_recheck_to_the_one_that_routes_it(
    state: RouterState, unrouted_database: str, tmp_path: Path, unique: str
) -> None:
    """Two replicas share the timer passes. One still refuses the reload (a Secret missing on its pod) and keeps
    the version that found the alert unrouted: before, its pass took the look the other replica's keep had marked,
    found no route, and cleared it: the alert waited for its next trigger (hours for Alertmanager, never for a
    CloudWatch alarm) although the configuration in force elsewhere routed it."""
    await keep_loaded(state)
    key = f"am:test-am:{unique}"
    event = alert_event(key, {"service": "billing", "alertname": "Down"}, occurred_at=T0, received_at=T0)
    await process_batch(state, [event], now=T0)

    old_folder = tmp_path / "old-config"
    old_folder.mkdir()
    shutil.copy(CONFIG, old_folder / "ownership.yaml")
    old_pool = await make_pool(unrouted_database, 2)
    try:
        old = loop_state(old_pool, ConfigHolder.load(str(old_folder)), timer_lock_wait_seconds=0.5)
        later = T0 + timedelta(minutes=30)
        await _reload_with_billing_rule(state, later)
        assert old.configs.current.version != state.configs.current.version
        set_clock(old, later)
        await timers.recheck_suppressed(old)  # the replica on the old files: nothing of this alert's to look at
        assert (await _alert(state, key))["recheck_at"] == later
    finally:
        await old_pool.close()

    await timers.recheck_suppressed(state)
    row = await _alert(state, key)
    assert (row["status"], row["recheck_at"]) == ("firing", None), row
    pages = [p for p in handed_over(state) if p.incident_id == row["incident_id"]]
    assert {p.user_id for p in pages} == {"alice"}
