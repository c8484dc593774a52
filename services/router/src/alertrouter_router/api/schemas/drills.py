"""Drill runs and their reports."""

from __future__ import annotations

from pydantic import Field

from alertrouter_router.api.schemas.common import Cursor, OpenReply, Reply, Timestamp


class DrillStarted(Reply):
    id: str
    service: str
    silent: bool
    dedup_key: str | None
    started_at: Timestamp
    ends_at: Timestamp | None = Field(
        description="the drill's time limit: its incident, if still open then, is resolved by the router"
    )
    report: str = Field(description="where the report fills in as the path runs")


class ScheduledAt(Reply):
    schedule: str = Field(description="the drill schedule of the configuration")
    at: Timestamp


class NextScheduled(ScheduledAt):
    silent: bool
    rule: str = Field(description="the schedule in words")


class DrillRunView(Reply):
    id: str | None = Field(description="null for a scheduled run that was skipped (never started)")
    silent: bool | None
    started_at: Timestamp | None
    requested_by: str
    scheduled: ScheduledAt | None = Field(description="the schedule that started (or skipped) it; null if asked for")
    incident: str | None
    status: str
    reason: str | None = Field(None, description="why a scheduled run was skipped")
    ok: bool | None = Field(description="a silent drill's verdict; null for a paging drill")
    report: str | None


class DrillRuns(Reply):
    service: str
    items: list[DrillRunView]
    next_cursor: Cursor
    next_scheduled: list[NextScheduled] = Field(description="each drill schedule's next run, soonest first")


class DrillReport(OpenReply):
    """A paging drill's report (timings, ``levels``, ``failures``) or a silent drill's stored checks (``route``,
    ``levels``, ``failures``, ``ok``)."""

    id: str
    service: str
    silent: bool
    requested_by: str
    note: str
    started_at: Timestamp
    status: str
