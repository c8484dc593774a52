"""A heartbeat beat as an alert event: a resolve of the integration's "monitoring has gone silent" alert.

The router records the beat (and when the next is due) and resolves that alert if it had fired; a beat carries
nothing else, so whatever body the sender posts is not read beyond the size limit.
"""

from __future__ import annotations

from datetime import datetime

from alertrouter_ingest.sources.normalise import build_event
from alertrouter_shared.events import AlertAction, AlertEvent, AlertSource, heartbeat_dedup_key


def beat(integration_id: str, service: str | None, received_at: datetime) -> AlertEvent:
    return build_event(
        source=AlertSource.HEARTBEAT,
        integration_id=integration_id,
        action=AlertAction.RESOLVE,
        dedup_key=heartbeat_dedup_key(integration_id),
        summary=f"heartbeat of {integration_id}",
        labels={"heartbeat": integration_id},
        bound_service=service,
        occurred_at=received_at,
        received_at=received_at,
    )
