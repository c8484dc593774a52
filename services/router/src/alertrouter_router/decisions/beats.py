"""A heartbeat's part in the decision (pure): the beat an event records, and the alert raised when beats stop.

The timer pass that raises it and the API's listing are ``heartbeats.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from alertrouter_router.decisions import derived_id
from alertrouter_router.ownership.loader import LoadedConfig
from alertrouter_shared.events import AlertAction, AlertEvent, AlertSource, heartbeat_dedup_key


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
