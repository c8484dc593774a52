"""Incidents: what a person is paged for. An incident groups one or more alerts (its members).

Lifecycle: triggered → acknowledged → resolved. It resolves when all its member alerts have resolved, or when a
person resolves it (which resolves its alerts), or, for a drill's incident, when the drill's time limit comes. It is
only ever opened to page, so an incident that paged nobody says why in its decision (nobody on call): suppression
never opens one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

# A drill whose event carries no end time (raised before drills had one) ends this long after its alert occurred.
DRILL_DEFAULT_MINUTES = 30
# Who resolved a drill incident that reached its time limit (the incident's resolved_by, the decision's actor).
DRILL_TIME_LIMIT = "router:drill-time-limit"


class IncidentStatus(StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Incident:
    id: str
    dedup_key: str  # the alert that opened it
    status: IncidentStatus
    service_id: str | None
    team_id: str | None
    policy_id: str | None
    summary: str
    severity: str
    labels: dict[str, str]
    alert_count: int  # member alerts, ever
    firing_count: int  # member alerts not yet resolved
    group_key: str | None
    opened_at: datetime
    first_event_at: datetime
    last_event_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    config_version: str | None
    round_base: int = 0  # first round of the current escalation cycle (a snooze or ack timeout starts a new one)
    last_round: int = 0  # the position last paged: rounds count on across cycles, so page ids never repeat
    last_level: int = 0
    # The highest round any escalation step was scheduled at (a retry after nobody was reachable is a round past
    # the last one paged): a new cycle starts after it, so a step position never repeats (a repeated one was
    # dropped by the step table's unique key and escalation silently stopped).
    step_round: int = 0
    retrigger_at: datetime | None = None  # an acknowledged incident pages again then (snooze, ack timeout)
    drill: bool = False  # opened by a drill: pages say DRILL, never counted in incident metrics or listings
    drill_ends_at: datetime | None = None  # a drill's time limit: the timer resolves the incident then (DrillEnd)
    # The integration of the alert that opened it, read from that alert's row (dedup keys are per integration), not
    # stored twice: an incident whose service a reload removed is routed again as that integration is now.
    integration_id: str | None = None

    @property
    def next_cycle_round(self) -> int:
        """The first round of a new escalation cycle: past every position paged or scheduled."""
        return max(self.last_round, self.step_round) + 1

    @property
    def live(self) -> bool:
        return self.status is not IncidentStatus.RESOLVED

    def triggered_again(self, **changes: int) -> Incident:
        """Back to triggered (escalate now, a snooze running out, a reassignment): no acknowledgement, no snooze."""
        return replace(
            self,
            status=IncidentStatus.TRIGGERED,
            acknowledged_at=None,
            acknowledged_by=None,
            retrigger_at=None,
            **changes,  # type: ignore[arg-type]
        )
