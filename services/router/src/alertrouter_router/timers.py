"""The timer loops: drills' time limits, due escalation steps, maintenance rechecks, snoozes, silent heartbeats,
shift reminders (``shift_reminders.py``) and retention (``history.py``), in any replica, each exactly once; and, in
a loop of its own, drills scheduled in the configuration (a silent one waits seconds for the providers' check, which
must never hold up an escalation).

Steps and rechecks are claimed with SKIP LOCKED, so replicas share them; they go through the same ``decide`` as
the live path. A recheck is how an alert suppressed by a maintenance window pages when the window ends (by its
end time, ended early through the API, or removed from the configuration).

A due step or snooze whose incident another transaction holds is not left to luck: in an alert storm on a grouping
service every consumer batch locks the group's incident, and with two replicas their batches queue for it back to
back, so the row is hardly ever free at a pass's instant and a SKIP LOCKED claim skipped the step for as long as
the storm lasted. Such a step is taken at once in a second transaction that waits for the incident
(``ROUTER_TIMER_LOCK_WAIT_SECONDS`` at most), queued behind the batch that holds it: it fires within about one
batch. That transaction locks the incident before the step, in the consumer's order, so it cannot deadlock with a
batch that cancels the incident's steps.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import asyncpg

from alertrouter_router import work
from alertrouter_router.db import snapshot_reads
from alertrouter_router.db.pool import Conn
from alertrouter_router.decisions.decide import DrillEnd, Input, Recheck, Retrigger, Snapshot
from alertrouter_router.decisions.escalation import Step
from alertrouter_router.decisions.maintenance import Maintenance
from alertrouter_router.drills import scheduled_drills
from alertrouter_router.heartbeats import raise_silent
from alertrouter_router.history import prune_history
from alertrouter_router.metrics import TIMER_FAILURES, TIMER_LOCK_WAITS
from alertrouter_router.ownership.loader import LoadedConfig
from alertrouter_router.shift_reminders import send_due_reminders
from alertrouter_shared.logging import get_logger

if TYPE_CHECKING:
    from alertrouter_router.settings import RouterSettings
    from alertrouter_router.state import RouterState

log = get_logger(__name__)


Claimed = tuple[Sequence[Input], Snapshot, Maintenance]
Claim = Callable[[Conn, datetime, LoadedConfig, int], Awaitable[Claimed | None]]


async def _decide_claimed(state: RouterState, claim: Claim) -> int:
    """The shape every pass shares: claim due work in a transaction, decide it like the live path, publish after
    commit. Returns how many inputs were decided (0 ends the pass)."""
    now = state.clock.now()
    config = state.configs.current
    async with state.pool.acquire() as conn, conn.transaction():
        claimed = await claim(conn, now, config, state.settings.escalation_batch)
        if claimed is None:
            return 0
        inputs, snapshot, maintenance = claimed
        effects, recorded = await work.run_unit(conn, inputs, snapshot, maintenance, config, now, state.rules)
    work.after_commit(effects, recorded, now, state.publisher)
    return len(inputs)


async def fire_due_steps(state: RouterState) -> int:
    """One pass over due escalation steps; those whose incidents another transaction held wait for them."""
    held: list[Step] = []
    fired = await _decide_claimed(state, functools.partial(_claim_steps, held=held))
    if held:
        fired += await _decide_held(state, "steps", functools.partial(_claim_held_steps, steps=held), len(held))
    return fired


async def _decide_held(state: RouterState, timer: str, claim: Claim, count: int) -> int:
    """A pass over work skipped because its incidents were locked, waiting for them at most the configured time;
    still held then, the work stays due for the next pass (nothing is marked done)."""
    try:
        decided = await _decide_claimed(state, functools.partial(_bounded_wait, claim, state.settings))
    except asyncpg.exceptions.LockNotAvailableError:
        TIMER_LOCK_WAITS.labels(timer, "timed_out").inc()
        log.warning(
            "timer_lock_wait_timed_out", timer=timer, items=count, seconds=state.settings.timer_lock_wait_seconds
        )
        return 0
    TIMER_LOCK_WAITS.labels(timer, "acquired").inc()
    return decided


async def _bounded_wait(
    claim: Claim, settings: RouterSettings, conn: Conn, now: datetime, config: LoadedConfig, limit: int
) -> Claimed | None:
    wait = f"{max(1, round(settings.timer_lock_wait_seconds * 1000))}ms"
    await conn.execute("SELECT set_config('lock_timeout', $1, true)", wait)  # this transaction only
    return await claim(conn, now, config, limit)


async def recheck_suppressed(state: RouterState) -> int:
    """One pass over suppressed alerts due for another look."""
    return await _decide_claimed(state, _claim_rechecks)


async def retrigger_acknowledged(state: RouterState) -> int:
    """One pass over acknowledged incidents whose snooze or acknowledgement timeout ran out; those another
    transaction held are waited for."""
    held: list[str] = []
    done = await _decide_claimed(state, functools.partial(_claim_retriggers, held=held))
    if held:
        done += await _decide_held(state, "retriggers", functools.partial(_claim_held_retriggers, ids=held), len(held))
    return done


async def end_drills(state: RouterState) -> int:
    """One pass over drill incidents still open at their drill's time limit."""
    return await _decide_claimed(state, _claim_drill_ends)


async def _claim_drill_ends(conn: Conn, now: datetime, config: LoadedConfig, limit: int) -> Claimed | None:
    """Only incidents marked drill with an end time are ever found (the partial index holds the open ones)."""
    peek = await conn.fetch(
        "SELECT id FROM router_incident WHERE drill_ends_at <= $1 AND status <> 'resolved' AND drill "
        "ORDER BY drill_ends_at LIMIT $2",
        now,
        limit,
    )
    if not peek:
        return None
    snapshot = await snapshot_reads.for_drill_ends(conn, [r["id"] for r in peek])
    return [DrillEnd(i) for i in sorted(snapshot.incidents)], snapshot, Maintenance()


async def _claim_steps(
    conn: Conn, now: datetime, config: LoadedConfig, limit: int, *, held: list[Step]
) -> Claimed | None:
    rows = await conn.fetch(
        "SELECT incident_id, round, level, due_at FROM router_escalation_step WHERE status = 'pending' "
        "AND due_at <= $1 ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED",
        now,
        limit,
    )
    claimed = [Step(r["incident_id"], r["round"], r["level"], r["due_at"]) for r in rows]
    if not claimed:
        return None
    # A step whose incident another transaction holds (a batch, an acknowledgement) is the caller's to wait for.
    snapshot = await snapshot_reads.for_steps(conn, claimed, config, now)
    held += [s for s in claimed if s.incident_id not in snapshot.incidents]
    return [s for s in claimed if s.incident_id in snapshot.incidents], snapshot, Maintenance()


async def _claim_held_steps(
    conn: Conn, now: datetime, config: LoadedConfig, limit: int, *, steps: Sequence[Step]
) -> Claimed | None:
    claimed, snapshot = await snapshot_reads.for_held_steps(conn, steps, now)
    return (claimed, snapshot, Maintenance()) if claimed else None


# Neither query returns an unrouted alert this process's configuration version ($3) already found unrouted: a
# replica still refusing a reload would find no route again and clear the look the reloaded ones owe it
# (db/alert_rechecks).
_DUE_RECHECKS = (
    "SELECT dedup_key FROM router_alert WHERE status = 'suppressed' AND recheck_at <= $1 "
    "AND (suppressed_by IS DISTINCT FROM 'no_route' OR no_route_version IS DISTINCT FROM $3) "
    "ORDER BY recheck_at LIMIT $2"
)
_LOCK_RECHECKS = (
    "SELECT dedup_key FROM router_alert WHERE dedup_key = ANY($1::text[]) AND status = 'suppressed' "
    "AND recheck_at <= $2 AND (suppressed_by IS DISTINCT FROM 'no_route' OR no_route_version IS DISTINCT FROM $3) "
    "ORDER BY dedup_key FOR UPDATE SKIP LOCKED"
)


async def _claim_rechecks(conn: Conn, now: datetime, config: LoadedConfig, limit: int) -> Claimed | None:
    peek = await conn.fetch(
        _DUE_RECHECKS,
        now,
        limit,
        config.version,
    )
    if not peek:
        return None
    candidates = await snapshot_reads.read_alerts(conn, [r["dedup_key"] for r in peek], lock=False)
    services = snapshot_reads.grouping_services(config, (), candidates.values())
    await snapshot_reads.lock_groups(conn, services)  # the same lock order as the consumer: groups first
    rows = await conn.fetch(
        _LOCK_RECHECKS,
        sorted(candidates),
        now,
        config.version,
    )
    locked = await snapshot_reads.read_alerts(conn, [r["dedup_key"] for r in rows], lock=False)  # locked just above
    # A batch may have given an alert other labels since it was peeked (a stale trigger keeps its recheck due):
    # routed now to a service whose group lock this pass does not hold, it would be decided without that group's
    # open incident and open another. It is left for the next pass, which takes that lock first.
    alerts = {
        key: alert
        for key, alert in locked.items()
        if set(snapshot_reads.grouping_services(config, (), [alert])) <= set(services)
    }
    keys = sorted(alerts)
    if not keys:
        return None
    since = snapshot_reads.groups_since(config, now)
    incidents = await snapshot_reads.read_incidents(conn, [], services, since, lock=True)
    maintenance = await snapshot_reads.read_maintenance(conn, now)
    return [Recheck(k) for k in keys], Snapshot(alerts=alerts, incidents=incidents), maintenance


_DUE_RETRIGGERS = "SELECT id FROM router_incident WHERE status = 'acknowledged' AND retrigger_at <= $1 "


async def _claim_retriggers(
    conn: Conn, now: datetime, config: LoadedConfig, limit: int, *, held: list[str]
) -> Claimed | None:
    rows = await conn.fetch(_DUE_RETRIGGERS + "ORDER BY retrigger_at LIMIT $2 FOR UPDATE SKIP LOCKED", now, limit)
    ids = [r["id"] for r in rows]
    if len(ids) < limit:  # every due one unlocked is in: any other due one is held by another transaction
        skipped = await conn.fetch(
            _DUE_RETRIGGERS + "AND id <> ALL($3::text[]) ORDER BY retrigger_at LIMIT $2", now, limit - len(ids), ids
        )
        held += [r["id"] for r in skipped]
    if not ids:
        return None
    return await _retriggers(conn, ids, now)


async def _claim_held_retriggers(
    conn: Conn, now: datetime, config: LoadedConfig, limit: int, *, ids: Sequence[str]
) -> Claimed | None:
    """Waits for the incidents (in id order, as every live read locks them); one whose snooze was changed or ended
    meanwhile no longer matches and is left out."""
    rows = await conn.fetch(_DUE_RETRIGGERS + "AND id = ANY($2::text[]) ORDER BY id FOR UPDATE", now, sorted(ids))
    found = [r["id"] for r in rows]
    return await _retriggers(conn, found, now) if found else None


async def _retriggers(conn: Conn, ids: list[str], now: datetime) -> Claimed:
    incidents = await snapshot_reads.read_incidents(conn, ids, [], now, lock=False)  # locked by the caller
    snapshot = Snapshot(incidents=incidents, members=await snapshot_reads.read_members(conn, ids))
    return [Retrigger(i) for i in ids], snapshot, Maintenance()


# A drill's end first: a step or a snooze due at the same time would page for a drill that is over.
TIMER_PASSES = (
    end_drills,
    fire_due_steps,
    recheck_suppressed,
    retrigger_acknowledged,
    raise_silent,
    send_due_reminders,
    prune_history,
)


async def run_timers(state: RouterState) -> None:
    """Each pass on its own: one that fails (the database away, or an item it cannot decide) is retried at the next
    poll and holds up none of the others, so a stuck recheck never delays an escalation."""
    while not state.stopping.is_set():
        for one_pass in TIMER_PASSES:
            try:
                while await one_pass(state) > 0:
                    pass
            except Exception as exc:
                TIMER_FAILURES.labels(one_pass.__name__).inc()
                log.warning("timer_pass_failed", timer=one_pass.__name__, error=str(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.stopping.wait(), timeout=state.settings.escalation_poll_seconds)


async def run_drill_schedule(state: RouterState) -> None:
    """Starts drills scheduled in the configuration when due (drills/scheduled_drills.py: claimed, each run once)."""
    while not state.stopping.is_set():
        try:
            await scheduled_drills.start_due(state)
        except Exception as exc:
            log.warning("drill_schedule_pass_failed", error=str(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.stopping.wait(), timeout=state.settings.drill_poll_seconds)
