"""The heartbeat timer pass (``raise_silent``) on a database of the module's own, with a clock the test sets: beats
recorded by a consumer batch (``process_batch``), the pass called as the timer loop calls it, raises produced to
the alerts topic (nothing here consumes them), the configuration reloaded from files as the router does.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from aiokafka import AIOKafkaProducer

from alertrouter_router import heartbeats
from alertrouter_router.config_state import ConfigHolder
from alertrouter_router.config_watch import keep_loaded
from alertrouter_router.db.pool import make_pool
from alertrouter_router.pipeline import process_batch
from alertrouter_router.state import RouterState
from alertrouter_shared.events import AlertAction, AlertEvent, AlertSource, heartbeat_dedup_key
from tests.helpers import DatabaseFactory
from tests.router.loop_support import T0, loop_state, migrated_database, set_clock

pytestmark = [pytest.mark.db, pytest.mark.kafka]

CONFIG = Path(__file__).resolve().parents[1] / "fixtures" / "router" / "heartbeat_ownership.yaml"
INTEGRATION = "hb-backup"  # interval 60 s + grace 60 s: overdue 120 s after a beat, raised again every 5 minutes


@pytest.fixture(scope="module")
def heartbeat_database(databases: DatabaseFactory) -> Iterator[str]:
    yield migrated_database(databases)


@pytest.fixture
async def state(heartbeat_database: str, tmp_path: Path, producer: AIOKafkaProducer) -> AsyncIterator[RouterState]:
    folder = tmp_path / "config"
    folder.mkdir()
    shutil.copy(CONFIG, folder / "ownership.yaml")
    pool = await make_pool(heartbeat_database, 4)
    found = loop_state(pool, ConfigHolder.load(str(folder)), unrouted_recheck_hours=0)
    cast(Any, found).producer = producer
    await keep_loaded(found)  # the startup load, kept as the router does before its loops run
    yield found
    async with pool.acquire() as conn:  # the module's database: the next test starts with no heartbeat
        await conn.execute("DELETE FROM router_heartbeat")
        await conn.execute("DELETE FROM router_alert WHERE dedup_key LIKE 'hb:%'")
    await pool.close()


async def _beat(state: RouterState, at: datetime) -> None:
    """A beat as ingest produces it, decided by a consumer batch at ``at``."""
    event = AlertEvent(
        event_id=uuid.uuid4(),
        source=AlertSource.HEARTBEAT,
        integration_id=INTEGRATION,
        action=AlertAction.RESOLVE,
        dedup_key=heartbeat_dedup_key(INTEGRATION),
        summary=f"heartbeat of {INTEGRATION}",
        labels={"heartbeat": INTEGRATION},
        bound_service="nightly-jobs",
        occurred_at=at,
        received_at=at,
    )
    await process_batch(state, [event], now=at)


async def _pass_at(state: RouterState, at: datetime, integration: str = INTEGRATION) -> int:
    """One timer pass at ``at``: 1 if it raised ``integration`` (its row marked silent with a new due time), else
    0. The other heartbeats of the file, never beaten, are monitored from the first pass and raise on their own."""
    before = await _row(state, integration)
    set_clock(state, at)
    await heartbeats.raise_silent(state)
    after = await _row(state, integration)
    return int(after is not None and after["state"] == "silent" and after != before)


async def _row(state: RouterState, integration: str) -> dict[str, Any] | None:
    async with state.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM router_heartbeat WHERE integration_id = $1", integration)
    return dict(row) if row else None


async def _reload(state: RouterState, text: str) -> None:
    """The files changed, the process reloaded and kept the load, as its watch loop does."""
    (Path(state.configs.path) / "ownership.yaml").write_text(text)
    state.configs.reload("watch", "client:watch")
    await keep_loaded(state)


async def _listed(state: RouterState) -> dict[str, Any]:
    async with state.pool.acquire() as conn:
        rows = [dict(r) for r in await conn.fetch("SELECT * FROM router_heartbeat")]
    found = heartbeats.listing(state.configs.current, rows, state.clock.now())
    return next(h for h in found if h["integration"] == INTEGRATION)


async def test_a_silent_heartbeat_whose_interval_a_reload_lengthened_is_raised_again_only_when_overdue_by_it(
    state: RouterState,
) -> None:
    """A silent heartbeat was raised again at least every hour whatever the current interval: lengthened to a day
    (the job runs daily, 60 s was a mistake), its last beat an hour old, it paged "gone silent" again once the
    incident was resolved, though by the configuration in force it was not overdue for another 23 hours."""
    await _beat(state, T0)
    assert await _pass_at(state, T0 + timedelta(seconds=125)) == 1  # overdue at +120 s: raised

    configured = "key: hb-backup-key\n    development_only: true\n    interval_seconds: "
    await _reload(state, CONFIG.read_text().replace(configured + "60", configured + "86400"))

    overdue_by_now = T0 + timedelta(seconds=86460)  # the last beat plus the interval and grace configured now
    assert (await _listed(state))["next_due_at"] == overdue_by_now.isoformat()
    assert await _pass_at(state, T0 + timedelta(hours=2)) == 0
    assert await _pass_at(state, overdue_by_now - timedelta(seconds=1)) == 0
    assert await _pass_at(state, overdue_by_now + timedelta(seconds=1)) == 1  # still no beat: raised again


def _disabled(text: str) -> str:
    return text.replace("key: hb-backup-key\n", "key: hb-backup-key\n    enabled: false\n")


def _removed(text: str) -> str:
    return text[: text.index("  - id: hb-backup")] + text[text.index("  - id: hb-export") :]


@pytest.mark.parametrize("pause", [_disabled, _removed], ids=["disabled", "removed"])
async def test_a_heartbeat_enabled_again_counts_from_then_not_from_its_beat_before_the_pause(
    state: RouterState, pause: Callable[[str], str]
) -> None:
    """While disabled (or removed) ingest refuses its beats, so its last stored beat is from before the pause: the
    first timer pass after it was enabled again paged "gone silent" at once for a job beating as it should. It is
    monitored from then on: it pages when no beat comes within its interval and grace."""
    await _beat(state, T0)
    await _reload(state, pause(CONFIG.read_text()))
    assert await _pass_at(state, T0 + timedelta(hours=2)) == 0  # paused: never raised

    await _reload(state, CONFIG.read_text())
    enabled = T0 + timedelta(hours=3)
    assert await _pass_at(state, enabled) == 0
    listed = await _listed(state)
    assert (listed["state"], listed["overdue"]) == ("ok", False)
    assert listed["next_due_at"] == (enabled + timedelta(seconds=120)).isoformat()
    assert await _pass_at(state, enabled + timedelta(seconds=120)) == 0  # interval + grace: still on time
    assert await _pass_at(state, enabled + timedelta(seconds=121)) == 1  # no beat since: gone silent


async def test_a_process_on_files_without_the_heartbeat_puts_off_its_alert_once_not_for_ever(
    state: RouterState, tmp_path: Path
) -> None:
    """Another process on files where the heartbeat is disabled (a rollout, a pod started with none) pauses it when
    it keeps that load, not at each of its timer passes: the process monitoring it arms it once, and a dead job
    pages an interval and grace later."""
    await _beat(state, T0)
    other = tmp_path / "other"
    other.mkdir()
    (other / "ownership.yaml").write_text(_disabled(CONFIG.read_text()))
    elsewhere = loop_state(state.pool, ConfigHolder.load(str(other)), unrouted_recheck_hours=0)
    await keep_loaded(elsewhere)
    armed = T0 + timedelta(minutes=1)
    assert await _pass_at(state, armed) == 0
    for seconds in (30, 60, 90):  # the other process's timer passes change nothing
        assert await _pass_at(elsewhere, armed + timedelta(seconds=seconds)) == 0
        assert await _pass_at(state, armed + timedelta(seconds=seconds + 1)) == 0
    assert await _pass_at(state, armed + timedelta(seconds=121)) == 1


async def test_a_heartbeat_configured_but_never_beaten_is_monitored_from_the_first_pass_and_pages(
    state: RouterState,
) -> None:
    """Monitoring started with the first beat: a job whose heartbeat URL or key was wrong from the start never beat,
    and nobody was ever paged. The first timer pass that sees it configured arms it; an interval and grace later,
    still no beat, its alert is raised, says it never beat, and is raised again while it stays silent."""
    listed = await _listed(state)
    assert (listed["state"], listed["last_beat_at"], listed["next_due_at"]) == (
        "waiting for the first beat",
        None,
        None,
    )

    assert await _pass_at(state, T0) == 0
    listed = await _listed(state)
    assert (listed["state"], listed["last_beat_at"]) == ("waiting for the first beat", None)
    assert listed["next_due_at"] == (T0 + timedelta(seconds=120)).isoformat()
    assert await _pass_at(state, T0 + timedelta(seconds=120)) == 0
    assert await _pass_at(state, T0 + timedelta(seconds=121)) == 1
    row = await _row(state, INTEGRATION)
    assert row is not None and row["last_beat_at"] is None and row["silent_since"] == T0 + timedelta(seconds=120)
    listed = await _listed(state)
    assert (listed["state"], listed["next_due_at"]) == ("silent", (T0 + timedelta(seconds=420)).isoformat())

    assert await _pass_at(state, T0 + timedelta(seconds=420)) == 0
    assert await _pass_at(state, T0 + timedelta(seconds=421)) == 1  # raised again, 5 minutes on

    await _beat(state, T0 + timedelta(minutes=8))  # the job fixed: its first beat
    listed = await _listed(state)
    assert (listed["state"], listed["silent_since"]) == ("ok", None)
    assert listed["last_beat_at"] == (T0 + timedelta(minutes=8)).isoformat()


@pytest.mark.parametrize("beaten", [False, True], ids=["never beaten", "enabled again"])
async def test_a_heartbeat_silent_since_monitoring_began_counts_a_lengthened_interval_from_that_start(
    state: RouterState, beaten: bool
) -> None:
    """Never beaten (or enabled again after a pause, no beat since), then raised: the start of monitoring was
    derived from the silence minus the allowance configured now, so lengthening the interval to a day moved it
    back a day and the heartbeat paged "gone silent" again within the hour, though not overdue by the
    configuration in force until a day after monitoring began."""
    started = T0
    if beaten:
        await _beat(state, T0 - timedelta(hours=3))
        await _reload(state, _disabled(CONFIG.read_text()))
        await _reload(state, CONFIG.read_text())
    assert await _pass_at(state, started) == 0  # monitored from here
    assert await _pass_at(state, started + timedelta(seconds=121)) == 1  # 60 s + 60 s grace: gone silent

    configured = "key: hb-backup-key\n    development_only: true\n    interval_seconds: "
    await _reload(state, CONFIG.read_text().replace(configured + "60", configured + "86400"))
    overdue_by_now = started + timedelta(seconds=86460)  # monitoring's start plus the interval and grace now
    assert (await _listed(state))["next_due_at"] == overdue_by_now.isoformat()
    assert await _pass_at(state, started + timedelta(hours=2)) == 0
    assert await _pass_at(state, overdue_by_now - timedelta(seconds=1)) == 0
    assert await _pass_at(state, overdue_by_now + timedelta(seconds=1)) == 1  # still no beat: raised again
