"""Which open incident a new alert joins: the service's grouping window, split by its ``group_by`` labels (pure).

Like Alertmanager's group_by: alerts of a service whose ``group_by`` label values are equal share an incident
while it is open and younger than the window; without ``group_by`` the whole service is one group.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from alertrouter_router.decisions.incidents import Incident
from alertrouter_router.ownership.model import Service


def group_key(service: Service, labels: dict[str, str]) -> str | None:
    """None when the service does not group (every alert its own incident)."""
    if not service.grouping_window_seconds:
        return None
    if not service.group_by:
        return service.id
    return service.id + "|" + ",".join(f"{name}={labels.get(name, '')}" for name in service.group_by)


def newest_open_group(
    incidents: Iterable[Incident], key: str | None, service: Service, now: datetime
) -> Incident | None:
    if key is None or not service.grouping_window_seconds:
        return None
    since = now - timedelta(seconds=service.grouping_window_seconds)
    candidates = [i for i in incidents if i.group_key == key and i.live and i.opened_at >= since]
    return max(candidates, key=lambda i: (i.opened_at, i.id), default=None)
