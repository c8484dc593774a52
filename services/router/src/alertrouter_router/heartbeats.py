"""Heartbeats: monitoring (or a job) that says "alive" on a schedule, and an incident when it goes silent.

A heartbeat integration (or an Alertmanager Watchdog receiver) beats; each beat is a resolve of the alert
``hb:<integration>`` and, here, a row saying when the next beat is due (interval plus grace). The timer loop claims
heartbeats past due and raises their "gone silent" alert by producing a trigger to the alerts topic, so it is
routed, paged and explained through the normal path like any alert; the next beat resolves it. Stored in the
database, a heartbeat survives a router restart: nothing is forgotten and no false alarm is raised. Monitoring
starts with the first beat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from alertrouter_router.decisions import derived_id
from alertrouter_router.ownership.loader import LoadedConfig
from alertrouter_shared.events import AlertAction, AlertEvent, AlertSource, heartbeat_dedup_key
from alertrouter_shared.kafka import produce_all
from alertrouter_shared.logging import get_logger
from alertrouter_shared.topics import ALERTS

if TYPE_CHECKING:
    from alertrouter_router.state import RouterState

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Beat:
    integration_id: str
    service_id: str | None
    at: datetime
    due_at: datetime


def beat_of(event: AlertEvent, config: LoadedConfig, now: datetime) -> Beat | None:
    """The beat a heartbeat event records, or None when its integration is not (or no longer) a heartbeat."""
    spec = config.integrations_by_id.get(event.integration_id)
    if event.source is not AlertSource.HEARTBEAT or spec is None or not spec.beats or spec.interval_seconds is None:
        return None
    return Beat(spec.id, spec.service, now, now + timedelta(seconds=spec.interval_seconds + spec.grace_seconds))


def silent_alert(integration_id: str, service_id: str | None, last_beat_at: datetime, now: datetime) -> AlertEvent:
    """The trigger raised for a heartbeat past due; its id is derived from the beat it waited for, so a timer
    pass repeated after a crash raises the same event (the router decides it once)."""
    since = last_beat_at.isoformat(timespec="seconds")
    return AlertEvent(
        event_id=derived_id("heartbeat-silent", f"{integration_id}:{last_beat_at.isoformat()}"),
        source=AlertSource.HEARTBEAT,
        integration_id=integration_id,
        action=AlertAction.TRIGGER,
        dedup_key=heartbeat_dedup_key(integration_id),
        summary=f"monitoring for {service_id or integration_id} has gone silent: no heartbeat from {integration_id} "
        f"since {since}",
        labels={"alertname": "HeartbeatMissing", "heartbeat": integration_id},
        bound_service=service_id,
        occurred_at=now,
        received_at=now,
    )


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
