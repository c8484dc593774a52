"""Which open incident a new alert joins: the service's grouping window, split by its ``group_by`` labels (pure).

Like Alertmanager's group_by: alerts of a service whose ``group_by`` label values are equal share an incident
while it is open and younger than the window; without ``group_by`` the whole service is one group. Drills are
apart: a real alert never joins a drill's incident, and a drill's alert joins no incident at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timedelta

from alertrouter_router.decisions.incidents import Incident
from alertrouter_router.ownership.model import Service

# The incident's ``group_key`` column (and the index the grouping lookup uses) holds this many characters.
MAX_GROUP_KEY_CHARS = 256


def group_key(service: Service, labels: dict[str, str]) -> str | None:
    """None when the service does not group (every alert its own incident).

    Label values are bounded only by ingest's limits (a pod name, a URL, a CloudWatch dimension), so a key that
    would not fit the column becomes the service id and a digest of the whole key: the same labels still meet in
    one incident, and the alert is stored and paged instead of failing the incident's write.
    """
    if not service.grouping_window_seconds:
        return None
    if not service.group_by:
        return service.id
    key = service.id + "|" + ",".join(f"{name}={labels.get(name, '')}" for name in service.group_by)
    if len(key) <= MAX_GROUP_KEY_CHARS:
        return key
    return f"{service.id}|sha256:{hashlib.sha256(key.encode()).hexdigest()}"


def newest_open_group(
    incidents: Iterable[Incident], key: str | None, service: Service, now: datetime, *, drill: bool = False
) -> Incident | None:
    """The open incident of the alert's group it joins, if any; never one for a drill's alert (``drill``).

    A drill is an explicit request to rehearse paging: grouped into an earlier drill's incident it paged nobody, and
    its report showed that drill's pages and acknowledgement (an incident acknowledged before it began) as its own
    success. So each drill opens its own incident and pages, however soon after another; a real alert groups only
    with real incidents, as drills never mix with real work.
    """
    if key is None or drill or not service.grouping_window_seconds:
        return None
    since = now - timedelta(seconds=service.grouping_window_seconds)
    candidates = [i for i in incidents if i.group_key == key and not i.drill and i.live and i.opened_at >= since]
    return max(candidates, key=lambda i: (i.opened_at, i.id), default=None)
