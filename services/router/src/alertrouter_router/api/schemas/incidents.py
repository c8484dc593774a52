"""Incidents, their alerts and timeline, and the outcome of a responder's action."""

from __future__ import annotations

from pydantic import Field

from alertrouter_router.api.schemas.common import Cursor, OpenReply, Reply, Timestamp


class IncidentView(Reply):
    id: str
    dedup_key: str = Field(description="the alert that opened it")
    status: str = Field(description="triggered, acknowledged or resolved")
    service_id: str | None
    team_id: str | None
    policy_id: str | None
    summary: str
    severity: str
    labels: dict[str, str]
    alert_count: int
    firing_count: int
    group_key: str | None
    opened_at: Timestamp
    first_event_at: Timestamp
    last_event_at: Timestamp
    acknowledged_at: Timestamp | None
    acknowledged_by: str | None
    resolved_at: Timestamp | None
    resolved_by: str | None
    config_version: str | None
    round_base: int
    last_round: int
    last_level: int
    step_round: int = Field(description="the highest round an escalation step was scheduled at")
    retrigger_at: Timestamp | None
    drill: bool
    drill_ends_at: Timestamp | None = Field(description="a drill's time limit: the router resolves it then if open")


class IncidentPage(Reply):
    items: list[IncidentView]
    next_cursor: Cursor


class AlertView(Reply):
    dedup_key: str
    status: str = Field(description="firing, suppressed or resolved")
    incident_id: str | None
    suppressed_by: str | None
    recheck_at: Timestamp | None
    service_id: str | None
    team_id: str | None
    policy_id: str | None
    source: str
    integration_id: str
    bound_service: str | None
    summary: str
    severity: str
    labels: dict[str, str]
    episode_started_at: Timestamp | None
    episode_opened_at: Timestamp
    first_event_at: Timestamp
    last_event_at: Timestamp
    repeat_count: int
    resolved_at: Timestamp | None
    updated_at: Timestamp
    drill: bool
    drill_ends_at: Timestamp | None = Field(description="a drill alert's time limit: routed after it, it pages nobody")
    resolved_by_source: bool = Field(
        False, description="its source resolved this episode (a firing again of the same episode then pages)"
    )


class TimelineEntry(OpenReply):
    """One entry; ``kind`` says which members follow: decision, page, change, delivery, note, action…"""

    at: Timestamp
    kind: str


class IncidentDetail(Reply):
    incident: IncidentView
    alerts: list[AlertView]
    timeline: list[TimelineEntry] = Field(description="oldest first")


class ActionIgnored(Reply):
    """The action decided nothing (e.g. acknowledging a resolved incident)."""

    incident: str
    status: str
    changed: bool


class ActionDecided(ActionIgnored):
    """The action went through ``decide``: its decision, and whether the incident changed."""

    by: str = Field(description="the person it was done by (or on whose behalf)")
    decision_id: str
    outcome: str
    reason: str


ActionResult = ActionDecided | ActionIgnored
