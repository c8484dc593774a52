"""Maintenance windows and schedule overrides created through the API, and heartbeats."""

from __future__ import annotations

from pydantic import Field

from alertrouter_router.api.schemas.common import Cursor, Reply, Timestamp
from alertrouter_router.ownership.model import MaintenanceWindow


class WindowView(Reply):
    id: str
    service_id: str
    starts_at: Timestamp
    ends_at: Timestamp
    reason: str
    created_by: str | None


class StoredWindow(WindowView):
    active: bool


class Windows(Reply):
    configured: list[MaintenanceWindow] = Field(
        description="from the ownership configuration: weekly ones, and one-off ones not over (all with "
        "include_ended); on the first page only"
    )
    created: list[StoredWindow] = Field(
        description="created through the API, current and future ones (all with include_ended; active is false for "
        "one ended early), by start, a page at a time"
    )
    next_cursor: Cursor


class WindowEnded(Reply):
    id: str
    active: bool


class OverrideView(Reply):
    id: str
    schedule_id: str
    user_id: str
    starts_at: Timestamp
    ends_at: Timestamp
    replaces: str | None
    reason: str
    created_by: str
    created_at: Timestamp
    deleted_at: Timestamp | None


class NewOverride(OverrideView):
    override_id: str = Field(description="its id in the schedule (api-<first 12 of id>), as shifts show it")


class Overrides(Reply):
    items: list[OverrideView]


class HeartbeatView(Reply):
    integration: str
    type: str
    service: str | None
    interval_seconds: int | None
    grace_seconds: int | None
    state: str = Field(description="ok, silent, waiting for the first beat, or disabled (enabled: false)")
    last_beat_at: Timestamp | None
    next_due_at: Timestamp | None = Field(
        description="ok: last beat + the configured interval + grace; silent: when its alert is raised again"
    )
    overdue: bool = Field(description="ok and past its due time: its alert is about to be raised")
    silent_since: Timestamp | None


class Heartbeats(Reply):
    heartbeats: list[HeartbeatView]
