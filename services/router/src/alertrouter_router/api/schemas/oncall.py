"""Who is on call and why, shifts, services and teams, and the routing preview."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from alertrouter_router.api.schemas.common import Reply, Timestamp
from alertrouter_router.ownership.model import Service
from alertrouter_router.ownership.people import Team


class SelectedBy(Reply):
    kind: str = Field(description="user, schedule")
    id: str
    layer: str | None
    override: str | None
    until: Timestamp | None


class Notification(Reply):
    contact_method: str
    type: str
    delay_minutes: int
    send_at: Timestamp


class LevelTarget(Reply):
    user: str
    name: str | None
    selected_by: SelectedBy
    notifications: list[Notification]


class Level(Reply):
    level: int = Field(description="1-based")
    delay_minutes: int
    targets: list[LevelTarget]


class ServiceOnCall(Reply):
    service: str
    policy: str
    levels: list[Level]


class OnCallForService(Reply):
    """``?service=``: its policy's levels and who each pages now."""

    service: str
    team: str
    policy: str
    at: Timestamp
    config_version: str
    levels: list[Level]


class OnCallForTeam(Reply):
    """``?team=``: every service of the team."""

    team: str
    at: Timestamp
    config_version: str
    services: list[ServiceOnCall]


class Shift(Reply):
    user: str
    start: Timestamp
    end: Timestamp
    layer: str | None
    override: str | None


class Shifts(Reply):
    schedule: str
    time_zone: str
    from_: Timestamp = Field(alias="from")
    to: Timestamp
    on_call_at_from: str | None
    shifts: list[Shift]


class Services(Reply):
    config_version: str
    services: list[Service]


class Teams(Reply):
    config_version: str
    teams: list[Team]


class Preview(Reply):
    preview: bool
    at: Timestamp
    outcome: str
    reason: str
    service: str | None
    team: str | None
    policy: str | None
    level: int | None
    config_version: str | None
    explanation: dict[str, Any]
    escalation_timeline: list[dict[str, Any]] = Field(description="each level and round if nobody acknowledged")
