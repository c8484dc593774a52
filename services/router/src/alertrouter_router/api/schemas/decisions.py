"""Routing decisions as stored: what was decided, why, and the full explanation."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from alertrouter_router.api.schemas.common import Cursor, Reply, Timestamp


class DecisionView(Reply):
    id: str
    seq: int
    event_id: str | None
    step_key: str | None
    incident_id: str | None
    dedup_key: str | None
    kind: str = Field(description="event, escalation, recheck or manual")
    outcome: str
    reason: str
    service_id: str | None
    team_id: str | None
    policy_id: str | None
    level: int | None
    config_version: str | None
    created_at: Timestamp
    explanation: dict[str, Any] = Field(description="the inputs and every step of the decision")


class DecisionPage(Reply):
    items: list[DecisionView]
    next_cursor: Cursor
