"""Starting a drill run, the one way both the API and the configured schedules start one.

A silent run's findings are gathered first (the chain, then the providers' check through the notifier), outside
any transaction: the providers' check may take seconds. Recording a run is then one insert, and for a paging run
its alert produced to the alerts topic *before* the caller commits, so a run is stored only if its alert is on
the topic (a failed produce raises ``TransientError`` and the caller's transaction rolls back).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from alertrouter_router import drills
from alertrouter_router.db import snapshot_reads
from alertrouter_router.db.pool import Conn
from alertrouter_router.drills import provider_reachability
from alertrouter_router.ownership.loader import LoadedConfig
from alertrouter_shared.kafka import produce_all
from alertrouter_shared.topics import ALERTS

if TYPE_CHECKING:
    from alertrouter_router.state import RouterState

_INSERT = (
    "INSERT INTO router_drill (id, service_id, silent, requested_by, note, started_at, event_id, dedup_key, checks, "
    "schedule_id, scheduled_at, ends_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12)"
)


async def silent_findings(state: RouterState, config: LoadedConfig, service_id: str, now: datetime) -> dict[str, Any]:
    """The chain as a real alert would take it now, and whether its channels' providers pass their own check."""
    async with state.pool.acquire() as conn:
        maintenance = await snapshot_reads.read_maintenance(conn, now)
    checks = drills.silent_checks(config, service_id, maintenance, now)
    providers = await provider_reachability.check(state.settings, drills.channels_of(checks))
    return drills.with_providers(checks, providers)


async def record(conn: Conn, state: RouterState, run: drills.DrillRun, service_name: str) -> None:
    """Stores the run; a paging run's alert is on the alerts topic when this returns (the caller then commits)."""
    values = (run.id, run.service_id, run.silent, run.requested_by, run.note, run.started_at)
    await conn.execute(
        _INSERT, *values, run.event_id, run.dedup_key, run.checks, run.schedule_id, run.scheduled_at, run.ends_at
    )
    if not run.silent:
        event = drills.drill_alert(run, service_name)
        await produce_all(state.producer, [(ALERTS, event.dedup_key.encode(), event.model_dump_json().encode())], 10)
