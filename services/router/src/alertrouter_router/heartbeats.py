"""Heartbeats: monitoring (or a job) that says "alive" on a schedule, and an incident when it goes silent.

A heartbeat integration (or an Alertmanager Watchdog receiver) beats; each beat is a resolve of the alert
``hb:<integration>`` and, here, a row saying when the next beat is due (interval plus grace). The timer loop claims
heartbeats past due and raises their "gone silent" alert by producing a trigger to the alerts topic, so it is
routed, paged and explained through the normal path like any alert; the next beat resolves it. Stored in the
database, a heartbeat survives a router restart: nothing is forgotten and no false alarm is raised. Monitoring
starts with the first beat.

What a beat records and the alert a silence raises are decided in ``decisions/beats.py`` (pure); here, the timer
pass that raises them and the listing of the API.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from alertrouter_router.decisions.beats import silent_alert
from alertrouter_router.ownership.loader import LoadedConfig
from alertrouter_shared.kafka import produce_all
from alertrouter_shared.logging import get_logger
from alertrouter_shared.topics import ALERTS

if TYPE_CHECKING:
    from alertrouter_router.state import RouterState

log = get_logger(__name__)


async def raise_silent(state: RouterState) -> int:
    """One timer pass: heartbeats past due raise their alert (produced to the alerts topic, then marked silent)."""
    now = state.clock.now()
    async with state.pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            "SELECT integration_id, service_id, last_beat_at FROM router_heartbeat WHERE state = 'ok' "
            "AND due_at <= $1 ORDER BY due_at LIMIT 100 FOR UPDATE SKIP LOCKED",
            now,
        )
        if not rows:
            return 0
        events = [silent_alert(r["integration_id"], r["service_id"], r["last_beat_at"], now) for r in rows]
        records = [(ALERTS, e.dedup_key.encode(), e.model_dump_json().encode()) for e in events]
        await produce_all(state.producer, records, timeout=10)  # before the commit: a crash here raises it again
        await conn.execute(
            "UPDATE router_heartbeat SET state = 'silent', silent_since = $2 WHERE integration_id = ANY($1::text[])",
            [r["integration_id"] for r in rows],
            now,
        )
    for row in rows:
        log.warning("heartbeat_silent", integration=row["integration_id"], last_beat_at=row["last_beat_at"].isoformat())
    return len(rows)


def listing(config: LoadedConfig, rows: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Every configured heartbeat with its state: ok, silent, or waiting for its first beat."""
    by_id = {row["integration_id"]: row for row in rows}
    found = []
    for spec in config.config.integrations:
        if not spec.beats:
            continue
        row = by_id.get(spec.id)
        found.append(
            {
                "integration": spec.id,
                "type": spec.type.value,
                "service": spec.service,
                "interval_seconds": spec.interval_seconds,
                "grace_seconds": spec.grace_seconds,
                "state": row["state"] if row else "waiting for the first beat",
                "last_beat_at": row["last_beat_at"].isoformat() if row else None,
                "next_due_at": row["due_at"].isoformat() if row else None,
                "overdue": bool(row and row["state"] == "ok" and row["due_at"] <= now),
                "silent_since": row["silent_since"].isoformat() if row and row["silent_since"] else None,
            }
        )
    return found
