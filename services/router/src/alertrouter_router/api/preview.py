"""Dry run of the live path: the same ``decide`` on a snapshot read with no lock, in a read-only transaction.

Because it is the same code, the preview cannot drift from what the router really does; it also sees the alerts
and open incidents, so a preview of a repeat says ``duplicate``. Its effects are thrown away; besides the
decision it returns the whole escalation timeline if nobody acknowledged: each level and round, who, through
which schedule layer or override, each contact method and the minute it would fire.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fastapi import HTTPException
from pydantic import BaseModel, Field, ValidationError

from alertrouter_router.db import snapshot_reads
from alertrouter_router.decisions import escalation
from alertrouter_router.decisions.decide import decide
from alertrouter_router.ownership.timespec import Instant
from alertrouter_shared.events import AlertAction, AlertEvent, AlertSource

if TYPE_CHECKING:
    from alertrouter_router.state import RouterState


class RawAlertmanagerAlert(BaseModel):
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    fingerprint: str | None = None


class PreviewRequest(BaseModel):
    labels: dict[str, str] | None = None
    alert: RawAlertmanagerAlert | None = Field(None, description="a raw Alertmanager alert instead of labels")
    integration: str | None = Field(None, description="integration id, for its bound service")
    dedup_key: str | None = None
    at: Instant | None = Field(None, description="instant to decide at, with its UTC offset (default now)")

    model_config = {"json_schema_extra": {"examples": [{"labels": {"service": "checkout", "severity": "critical"}}]}}


def _event(body: PreviewRequest, state: RouterState, at: datetime) -> AlertEvent:
    config = state.configs.current
    labels = body.labels if body.labels is not None else (body.alert.labels if body.alert else None)
    if labels is None:
        raise HTTPException(422, "give 'labels' or 'alert'")
    bound = None
    if body.integration is not None:
        integration = config.integrations_by_id.get(body.integration)
        if integration is None:
            raise HTTPException(404, f"integration {body.integration!r} not found")
        bound = integration.service
    annotations = body.alert.annotations if body.alert else {}
    try:
        return AlertEvent(
            source=AlertSource.ALERTMANAGER,
            integration_id=body.integration or "preview",
            action=AlertAction.TRIGGER,
            dedup_key=body.dedup_key or f"preview:{uuid.uuid4()}",
            summary=annotations.get("summary", ""),
            labels=labels,
            annotations=annotations,
            bound_service=bound,
            occurred_at=at,
            received_at=at,
        )
    except ValidationError as exc:  # what ingest would refuse (a label value over its limit): the caller's to fix
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise HTTPException(422, f"no alert could carry this: {where}: {first['msg']}") from None


async def preview_decision(state: RouterState, body: PreviewRequest) -> dict[str, Any]:
    at = body.at or state.clock.now()
    event = _event(body, state, at)
    config = state.configs.current
    async with state.pool.acquire() as conn, conn.transaction(readonly=True):
        snapshot, maintenance = await snapshot_reads.for_events(conn, [event], config, at, lock=False)
    effects = decide([event], snapshot, config, maintenance, at, state.rules)
    decision = effects.decisions[0]
    return {
        "preview": True,
        "at": at.isoformat(),
        "outcome": decision.outcome.value,
        "reason": decision.reason,
        "service": decision.service_id,
        "team": decision.team_id,
        "policy": decision.policy_id,
        "level": decision.level,
        "config_version": decision.config_version,
        "explanation": decision.as_explanation(),
        "escalation_timeline": escalation.timeline(config, decision.policy_id, at) if decision.policy_id else [],
    }
