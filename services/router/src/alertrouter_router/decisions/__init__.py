"""Routing decisions: one per alert event, escalation step, recheck or person's action, whatever the outcome.

The explanation is data, not a log line: it holds everything needed to answer "why was this person paged, or
why was nobody?" after the fact, including the configuration version that was in force.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from alertrouter_router.ownership.routing import RouteMatch
from alertrouter_shared.events import AlertEvent

# Decision and incident ids derived from the input they answer: a batch handled twice (a redelivery racing a
# rebalance) writes the same rows, which the unique keys then absorb.
ID_NAMESPACE = uuid.UUID("7f1d3c52-2f63-4c3e-9a57-3b8f1c0e6a10")


def derived_id(kind: str, ref: str) -> str:
    return str(uuid.uuid5(ID_NAMESPACE, f"{kind}:{ref}"))


class Outcome(StrEnum):
    PAGED = "paged"
    DUPLICATE = "duplicate"
    GROUPED = "grouped"
    RESOLVED = "resolved"
    ACKNOWLEDGED = "acknowledged"
    SUPPRESSED = "suppressed"
    NO_ROUTE = "no_route"
    NOBODY_ON_CALL = "nobody_on_call"
    ESCALATION_ENDED = "escalation_ended"
    NOTED = "noted"  # a person's note on an incident: nothing else changed
    NOT_STORED = "not_stored"  # the database refused the alert event: dead-lettered, nobody paged (not_stored.py)


class DecisionKind(StrEnum):
    EVENT = "event"
    ESCALATION = "escalation"
    RECHECK = "recheck"
    MANUAL = "manual"


@dataclass
class Decision:
    outcome: Outcome
    reason: str
    kind: DecisionKind = DecisionKind.EVENT
    event_id: str | None = None
    step_key: str | None = None
    incident_id: str | None = None
    dedup_key: str | None = None
    service_id: str | None = None
    team_id: str | None = None
    policy_id: str | None = None
    level: int | None = None
    config_version: str | None = None
    explanation: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def as_explanation(self) -> dict[str, Any]:
        return {**self.explanation, "outcome": self.outcome.value, "reason": self.reason}


def route_explanation(route: RouteMatch) -> dict[str, Any]:
    return {
        "rule": route.rule_id,
        "reason": route.reason,
        "bound_service": route.bound_service,
        "matched": [{"label": m.label, "op": m.op, "value": m.value, "actual": m.actual} for m in route.matched],
        "service": route.service_id,
        "team": route.team_id,
        "policy": route.escalation_policy_id,
    }


def event_explanation(event: AlertEvent, route: RouteMatch, config_version: str) -> dict[str, Any]:
    return {
        "event": {
            "event_id": str(event.event_id),
            "source": event.source.value,
            "integration": event.integration_id,
            "action": event.action.value,
            "dedup_key": event.dedup_key,
            "summary": event.summary,
            "severity": event.severity.value,
            "labels": event.labels,
            "occurred_at": event.occurred_at.isoformat(),
            "received_at": event.received_at.isoformat(),
        },
        "route": route_explanation(route),
        "config_version": config_version,
    }
