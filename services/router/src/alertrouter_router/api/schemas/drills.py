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
    report: str = Field(description="where the report fills in as the path runs")


class DrillRunView(Reply):
    id: str
    silent: bool
    started_at: Timestamp
    requested_by: str
    incident: str | None
    status: str
    ok: bool | None = Field(description="a silent drill's verdict; null for a paging drill")
    report: str


class DrillRuns(Reply):
    service: str
    items: list[DrillRunView]
    next_cursor: Cursor


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
