"""Drills scheduled in the configuration (``services[].drills``): each run started once, by whichever router
process sees it first, through the same start code as ``POST /v1/services/{id}/drills``.

The claim is a row keyed by (service, schedule, scheduled time), inserted with ON CONFLICT DO NOTHING in the same
transaction that records the run (and, for a paging run, produces its alert): a second process blocks on the
first one's row until it commits, then finds it and does nothing; a produce that fails rolls the claim back, so
the next pass tries again. A run's id (and so its alert's event id) is derived from its schedule and time, so a
crash between producing and committing raises the same alert again, which the router decides once.

Catch-up rule: a run is started only while it is at most ``ROUTER_DRILL_CATCH_UP_MINUTES`` late. A run found
later than that (every router was down at the time) is recorded as ``skipped``, never started late: a drill at
03:00 in the middle of the working day would surprise people. Runs older than ``LOOK_BACK`` are not looked at.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from alertrouter_router import drills
from alertrouter_router.decisions import derived_id
from alertrouter_router.drills import drill_start
from alertrouter_router.metrics import SCHEDULED_DRILLS
from alertrouter_router.ownership.drill_schedule import DrillSchedule, next_run, runs_between
from alertrouter_router.ownership.loader import LoadedConfig
from alertrouter_shared.errors import TransientError
from alertrouter_shared.logging import get_logger

if TYPE_CHECKING:
    from alertrouter_router.state import RouterState

log = get_logger(__name__)
LOOK_BACK = timedelta(hours=24)
SCHEDULE_REQUESTER = "schedule"

_CLAIM = (
    "INSERT INTO router_scheduled_drill (service_id, schedule_id, scheduled_at, status, drill_id, claimed_at, reason) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING scheduled_at"
)


@dataclass(frozen=True, slots=True)
class DueRun:
    service_id: str
    service_name: str
    schedule: DrillSchedule
    at: datetime

    @property
    def run_id(self) -> str:
        return derived_id("scheduled-drill", f"{self.service_id}:{self.schedule.id}:{self.at.isoformat()}")


def due_runs(config: LoadedConfig, after: datetime, until: datetime) -> list[DueRun]:
    """Every configured drill run in ``(after, until]``, oldest first (pure)."""
    found = [
        DueRun(service.id, service.name, schedule, at)
        for service in config.config.services
        for schedule in service.drills
        for at in runs_between(schedule, after, until)
    ]
    return sorted(found, key=lambda d: (d.at, d.service_id, d.schedule.id))


def upcoming(config: LoadedConfig, service_id: str, now: datetime) -> list[dict[str, Any]]:
    """The next run of each of a service's drill schedules, soonest first (for listings and the CLI)."""
    service = config.services_by_id.get(service_id)
    found = []
    for schedule in service.drills if service else []:
        at = next_run(schedule, now)
        if at is not None:
            found.append(
                {"schedule": schedule.id, "at": at.isoformat(), "silent": schedule.silent, "rule": schedule.describe()}
            )
    return sorted(found, key=lambda item: str(item["at"]))


async def start_due(state: RouterState) -> int:
    """One pass: claims and starts (or records as skipped) every run due and not yet claimed; returns how many this
    process claimed."""
    now = state.clock.now()
    config = state.configs.current
    due = due_runs(config, now - LOOK_BACK, now)
    if not due:
        return 0
    async with state.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT service_id, schedule_id, scheduled_at FROM router_scheduled_drill WHERE scheduled_at > $1",
            now - LOOK_BACK,
        )
    claimed = {(r["service_id"], r["schedule_id"], r["scheduled_at"]) for r in rows}
    late_after = timedelta(minutes=state.settings.drill_catch_up_minutes)
    count = 0
    for run in due:
        if (run.service_id, run.schedule.id, run.at) in claimed:
            continue
        if now - run.at > late_after:
            count += await _skip(state, run, now)
        else:
            count += await _start(state, config, run, now)
    return count


async def _skip(state: RouterState, run: DueRun, now: datetime) -> int:
    late = int((now - run.at).total_seconds() // 60)
    reason = f"not started: {late} minutes late, more than ROUTER_DRILL_CATCH_UP_MINUTES"
    async with state.pool.acquire() as conn:
        row = await conn.fetchval(_CLAIM, run.service_id, run.schedule.id, run.at, "skipped", None, now, reason)
    if row is not None:
        SCHEDULED_DRILLS.labels(outcome="skipped").inc()
        log.warning("scheduled_drill_skipped", service=run.service_id, schedule=run.schedule.id, due=run.at.isoformat())
    return int(row is not None)


async def _start(state: RouterState, config: LoadedConfig, run: DueRun, now: datetime) -> int:
    schedule = run.schedule
    note = schedule.note or f"scheduled drill {schedule.id} ({schedule.describe()})"
    started = drills.new_run(
        run.service_id, f"{SCHEDULE_REQUESTER}:{schedule.id}", note, now, silent=schedule.silent, run_id=run.run_id
    )
    started = replace(started, schedule_id=schedule.id, scheduled_at=run.at)
    if started.silent:  # gathered before the claim: the providers' check may take seconds
        started = replace(started, checks=await drill_start.silent_findings(state, config, run.service_id, now))
    try:
        async with state.pool.acquire() as conn, conn.transaction():
            claim = await conn.fetchval(_CLAIM, run.service_id, schedule.id, run.at, "started", started.id, now, "")
            if claim is None:
                return 0  # another process started it
            await drill_start.record(conn, state, started, run.service_name)
    except TransientError as exc:  # the claim rolled back with it: the next pass tries again
        SCHEDULED_DRILLS.labels(outcome="retry").inc()
        log.warning("scheduled_drill_not_started", service=run.service_id, schedule=schedule.id, error=str(exc))
        return 0
    SCHEDULED_DRILLS.labels(outcome="started").inc()
    log.info(
        "drill_started",
        drill=started.id,
        service=run.service_id,
        silent=started.silent,
        schedule=schedule.id,
        scheduled_at=run.at.isoformat(),
    )
    return 1
