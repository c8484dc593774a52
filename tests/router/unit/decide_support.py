"""A tiny in-memory store that applies ``decide``'s effects, so the pure core can be driven batch after batch.

It does for the unit tests what ``db/effect_writes.py`` does in PostgreSQL; the integration tests check that the
database does the same.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alertrouter_router.decisions import Decision
from alertrouter_router.decisions.alerts import Alert, AlertStatus
from alertrouter_router.decisions.decide import (
    DrillEnd,
    Effects,
    Input,
    ManualAction,
    Recheck,
    Retrigger,
    Rules,
    Snapshot,
    decide,
)
from alertrouter_router.decisions.escalation import Step
from alertrouter_router.decisions.incidents import Incident, IncidentStatus
from alertrouter_router.decisions.maintenance import ApiWindow, Maintenance
from alertrouter_router.ownership.loader import LoadedConfig, load_config
from alertrouter_shared.events import AlertAction, AlertEvent, AlertSource, Page

CONFIG = load_config(Path(__file__).resolve().parents[2] / "fixtures" / "router" / "decide.yaml")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday: alice is on call in payments-primary


def event(
    key: str,
    action: AlertAction = AlertAction.TRIGGER,
    *,
    at: datetime = T0,
    received: datetime | None = None,
    started: datetime | None = None,
    service: str = "checkout",
    event_id: uuid.UUID | None = None,
    source: AlertSource = AlertSource.ALERTMANAGER,
    **labels: str,
) -> AlertEvent:
    return AlertEvent(
        event_id=event_id or uuid.uuid4(),
        source=source,
        integration_id="test-am",
        action=action,
        dedup_key=key,
        summary=f"{labels.get('alertname', 'Alert')} {key}",
        labels={"service": service, **labels},
        occurred_at=at,
        received_at=received or at,
        episode_started_at=started,
    )


@dataclass
class Store:
    config: LoadedConfig = CONFIG
    rules: Rules = field(default_factory=Rules)
    alerts: dict[str, Alert] = field(default_factory=dict)
    incidents: dict[str, Incident] = field(default_factory=dict)
    decided: set[str] = field(default_factory=set)
    pending_steps: dict[str, Step] = field(default_factory=dict)
    step_keys: set[str] = field(default_factory=set)  # every position ever stored, pending, done or cancelled
    pages: list[Page] = field(default_factory=list)  # every page written and not cancelled before it was sent
    decisions: list[Decision] = field(default_factory=list)
    windows: list[ApiWindow] = field(default_factory=list)
    last_beats: dict[str, datetime] = field(default_factory=dict)  # the router_heartbeat rows' last beats

    def run(self, inputs: Sequence[Input], now: datetime) -> Effects:
        snapshot = Snapshot(
            alerts=dict(self.alerts),
            incidents=dict(self.incidents),
            decided=set(self.decided),
            last_beats=dict(self.last_beats),
        )
        effects = decide(inputs, snapshot, self.config, Maintenance(tuple(self.windows)), now, self.rules)
        self._apply(effects, now)
        return effects

    def _apply(self, effects: Effects, now: datetime) -> None:
        self.last_beats.update({integration: beat.at for integration, beat in effects.beats.items()})
        self.incidents.update(effects.incidents)
        self.alerts.update(effects.alerts)
        for incident_id, at in effects.resolved_members.items():
            for key, alert in list(self.alerts.items()):
                if alert.incident_id == incident_id and alert.status is AlertStatus.FIRING:
                    self.alerts[key] = replace(alert, status=AlertStatus.RESOLVED, resolved_at=at)
        for incident_id in effects.cancelled | effects.cancelled_steps:
            self.pending_steps = {k: s for k, s in self.pending_steps.items() if s.incident_id != incident_id}
        for incident_id in effects.cancelled:
            self.pages = [p for p in self.pages if p.incident_id != incident_id or p.send_at <= now]
        for step in effects.fired:
            self.pending_steps.pop(step.key, None)
        for step in effects.steps:  # the step table's unique position: a position once stored is never stored again
            if step.key not in self.step_keys:
                self.step_keys.add(step.key)
                self.pending_steps[step.key] = step
        known = {p.page_id for p in self.pages}
        self.pages += [p for p in effects.pages if p.page_id not in known]
        for decision in effects.decisions:
            if decision.event_id in self.decided or decision.step_key in self.decided:
                continue
            self.decided.update(x for x in (decision.event_id, decision.step_key) if x)
            self.decisions.append(decision)

    def tick(self, now: datetime) -> None:
        """What the timer loop does at ``now``: end drills past their time limit, fire due steps, recheck
        suppressed alerts that are due, page again acknowledged incidents whose snooze ran out."""
        ended = [
            i for i in self.incidents.values() if i.drill and i.live and i.drill_ends_at and i.drill_ends_at <= now
        ]
        if ended:
            self.run([DrillEnd(i.id) for i in ended], now)
        due = sorted((s for s in self.pending_steps.values() if s.due_at <= now), key=lambda s: s.due_at)
        if due:
            self.run(due, now)
        rechecks = [Recheck(a.dedup_key) for a in self.alerts.values() if a.recheck_at and a.recheck_at <= now]
        if rechecks:
            self.run(rechecks, now)
        snoozed = [i for i in self.incidents.values() if i.retrigger_at and i.retrigger_at <= now]
        retriggers = [Retrigger(i.id) for i in snoozed if i.status is IncidentStatus.ACKNOWLEDGED]
        if retriggers:
            self.run(retriggers, now)

    def act(self, incident_id: str, action: str, now: datetime, by: str = "bob", **more: int) -> Effects:
        return self.run([ManualAction(incident_id, action, by, **more)], now)  # type: ignore[arg-type]

    def window(self, service: str, start: datetime, end: datetime) -> ApiWindow:
        window = ApiWindow(str(uuid.uuid4()), service, start, end, "test")
        self.windows.append(window)
        return window

    def end_window(self, window: ApiWindow, now: datetime) -> None:
        """What ``DELETE …/maintenance/{id}`` does: the window goes, its alerts are due for a recheck."""
        self.windows.remove(window)
        for key, alert in self.alerts.items():
            if alert.status is AlertStatus.SUPPRESSED and alert.service_id == window.service_id:
                self.alerts[key] = replace(alert, recheck_at=now)

    def last(self, key: str) -> Decision:
        return [d for d in self.decisions if d.dedup_key == key][-1]

    def pages_for(self, incident_id: str) -> list[Page]:
        return [p for p in self.pages if p.incident_id == incident_id]


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def decision_row(decision: Decision) -> dict[str, Any]:
    """The decision as the why page reads it from its table (``explain_text``)."""
    return {**asdict(decision), "outcome": decision.outcome.value, "kind": decision.kind.value, "created_at": T0}
