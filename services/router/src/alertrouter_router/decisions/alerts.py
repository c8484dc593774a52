"""Alert state: one row per dedup key, the unit the sources talk about.

An alert is ``firing`` (a member of a live incident), ``suppressed`` (firing, deliberately not paged: maintenance,
a stale backlog trigger, no route; looked at again when the reason may have gone) or ``resolved`` (its resolve
time kept for ordering checks, so a late trigger that happened before it is recognised). A trigger of a resolved
alert starts a new episode.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from alertrouter_shared.events import AlertEvent


class AlertStatus(StrEnum):
    FIRING = "firing"
    SUPPRESSED = "suppressed"
    RESOLVED = "resolved"


class SuppressedBy(StrEnum):
    MAINTENANCE = "maintenance"
    STALE = "stale"
    NO_ROUTE = "no_route"


@dataclass(frozen=True, slots=True)
class Alert:
    dedup_key: str
    status: AlertStatus
    incident_id: str | None
    suppressed_by: SuppressedBy | None
    recheck_at: datetime | None  # when a suppressed alert is looked at again (the window's end)
    service_id: str | None
    team_id: str | None
    policy_id: str | None
    source: str
    integration_id: str
    bound_service: str | None
    summary: str
    severity: str
    labels: dict[str, str]
    episode_started_at: datetime | None  # the source's own start of the episode (Alertmanager startsAt)
    episode_opened_at: datetime  # event time of the first trigger of this episode
    first_event_at: datetime
    last_event_at: datetime
    repeat_count: int
    resolved_at: datetime | None
    updated_at: datetime
    drill: bool = False  # a drill's synthetic alert: it opens a drill incident and never joins a real one
    drill_ends_at: datetime | None = None  # a drill alert's time limit: routed after it, it pages nobody
    resolved_by_source: bool = False  # the source resolved this episode: its firing again is live
    # the configuration version under which no rule routed it: a recheck by a process on that version would find
    # no route again (a replica still refusing a reload), so only a process on another version claims it
    no_route_version: str | None = None

    def later_start(self, started: datetime | None) -> datetime | None:
        """The episode start after a trigger starting at ``started``: the later one (a transition source's newer
        state change), so a resolve is weighed against the episode firing now, not one it replaced."""
        return max((at for at in (self.episode_started_at, started) if at is not None), default=None)

    def suppressed(self, by: SuppressedBy, recheck_at: datetime | None, version: str | None = None) -> Alert:
        """Suppressed ``by`` a reason, looked at again at ``recheck_at``; ``version``: the configuration that found
        no route for it (``no_route_version``), for ``SuppressedBy.NO_ROUTE``."""
        return replace(
            self,
            status=AlertStatus.SUPPRESSED,
            suppressed_by=by,
            recheck_at=recheck_at,
            incident_id=None,
            no_route_version=version,
        )

    @property
    def firing(self) -> bool:
        return self.status is not AlertStatus.RESOLVED


def routing_integration(item: AlertEvent | Alert) -> str | None:
    """The integration whose binding in the configuration in force replaces a bound service it does not have
    (``resolve_route``); None for a drill, which rehearses its own service's chain: a drill of a service a reload
    removed pages nobody, never whoever a rule or a catch-all would route its labels to."""
    return None if item.drill else item.integration_id
