"""The router's one decision function: inputs and the state they touch in, decisions and effects out.

``decide(inputs, snapshot, config, maintenance, now, rules)`` does no I/O and reads no clock. The consumer
batch, the timer loop (escalation steps, maintenance rechecks), the API's person actions and the preview all call
it; the thin layers around it read the snapshot and write the effects set-based (``db/snapshot_reads.py``,
``db/effect_writes.py``).

Rules, in the order they are tried for a trigger:
- an event already decided (a redelivery) is skipped;
- a repeat of an episode already resolved (same source start) and a trigger older than the last resolve are
  recorded and page nobody; event times later than receipt plus the skew allowance are clamped to the receipt;
- a trigger of an alert that is firing in a live incident is a duplicate;
- otherwise the alert needs an incident: no route, a stale backlog event, or a maintenance window suppress it
  (recorded on the alert, never as an incident, and looked at again: maintenance by its end, the others by the
  next fresh trigger); else it joins the newest open incident of its group within the service's grouping
  window, or opens one and pages its first escalation level.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from alertrouter_router.alerts import Alert, AlertStatus, SuppressedBy
from alertrouter_router.decisions import (
    Decision,
    DecisionKind,
    Outcome,
    derived_id,
    event_explanation,
    route_explanation,
)
from alertrouter_router.escalation import Step, next_position
from alertrouter_router.grouping import group_key, newest_open_group
from alertrouter_router.incidents import Incident, IncidentStatus
from alertrouter_router.maintenance import Maintenance
from alertrouter_router.ownership.loader import LoadedConfig
from alertrouter_router.ownership.routing import RouteMatch, resolve_route
from alertrouter_router.paging import LevelPlan, build_pages, explain_targets, plan_level
from alertrouter_shared.events import AlertAction, AlertEvent, Page, PageAlert


@dataclass(frozen=True)
class Rules:
    max_event_age_seconds: int = 900
    clock_skew_seconds: int = 300
    recheck_max_seconds: int = 60  # a suppressed alert is looked at again at least this often while suppressed


@dataclass(frozen=True, slots=True)
class Recheck:
    """A suppressed alert whose reason may have gone (its maintenance window ended)."""

    dedup_key: str


@dataclass(frozen=True, slots=True)
class ManualAction:
    incident_id: str
    action: Literal["acknowledge", "resolve"]
    by: str
    note: str = ""


Input = AlertEvent | Recheck | Step | ManualAction


@dataclass
class Snapshot:
    """The state a batch touches: its alerts, their incidents, the open groups of its services."""

    alerts: dict[str, Alert] = field(default_factory=dict)
    incidents: dict[str, Incident] = field(default_factory=dict)
    decided: set[str] = field(default_factory=set)  # event ids and step keys already decided
    members: dict[str, list[PageAlert]] = field(default_factory=dict)  # incident id → some member alerts


@dataclass
class Effects:
    alerts: dict[str, Alert] = field(default_factory=dict)  # changed alerts, final state
    incidents: dict[str, Incident] = field(default_factory=dict)  # changed incidents, final state
    decisions: list[Decision] = field(default_factory=list)
    pages: list[Page] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    cancelled: set[str] = field(default_factory=set)  # incidents whose pending steps and unsent pages are dropped
    fired: list[Step] = field(default_factory=list)
    resolved_members: dict[str, datetime] = field(default_factory=dict)  # incident → resolve instant of its alerts
    opened: list[Incident] = field(default_factory=list)
    acknowledged: list[Incident] = field(default_factory=list)
    resolved: list[Incident] = field(default_factory=list)


def decide(
    inputs: Sequence[Input],
    snapshot: Snapshot,
    config: LoadedConfig,
    maintenance: Maintenance,
    now: datetime,
    rules: Rules = Rules(),
) -> Effects:
    decider = _Decider(snapshot, config, maintenance, now, rules)
    for item in inputs:
        decider.handle(item)
    return decider.effects


def clamp(at: datetime, received_at: datetime, skew_seconds: int) -> tuple[datetime, bool]:
    """A source clock ahead of ours by more than the allowance is not believed: the receipt time is used."""
    if at > received_at + timedelta(seconds=skew_seconds):
        return received_at, True
    return at, False


class _Decider:
    def __init__(
        self, snapshot: Snapshot, config: LoadedConfig, maintenance: Maintenance, now: datetime, rules: Rules
    ) -> None:
        self.alerts = dict(snapshot.alerts)
        self.incidents = dict(snapshot.incidents)
        self.decided = set(snapshot.decided)
        self.members = {k: list(v) for k, v in snapshot.members.items()}
        self.config = config
        self.maintenance = maintenance
        self.now = now
        self.rules = rules
        self.effects = Effects()
        self._plans: dict[tuple[str, int, int], LevelPlan] = {}  # one on-call computation per level per batch

    def _plan(self, policy_id: str, round_: int, level: int) -> LevelPlan:
        key = (policy_id, round_, level)
        if key not in self._plans:
            self._plans[key] = plan_level(self.config, policy_id, round_, level, self.now)
        return self._plans[key]

    # ------------------------------------------------------------------------------------------ dispatch

    def handle(self, item: Input) -> None:
        if isinstance(item, AlertEvent):
            if str(item.event_id) in self.decided:
                return
            self.decided.add(str(item.event_id))
            if item.action is AlertAction.TRIGGER:
                self._trigger(item)
            elif item.action is AlertAction.RESOLVE:
                self._resolve_event(item)
            else:
                self._acknowledge_event(item)
        elif isinstance(item, Step):
            if item.key not in self.decided:
                self.decided.add(item.key)
                self._due_step(item)
            self.effects.fired.append(item)
        elif isinstance(item, Recheck):
            self._recheck(item)
        else:
            self._manual(item)

    # ------------------------------------------------------------------------------------------ state

    def _put_alert(self, alert: Alert) -> Alert:
        alert = replace(alert, updated_at=self.now)
        self.alerts[alert.dedup_key] = alert
        self.effects.alerts[alert.dedup_key] = alert
        return alert

    def _put_incident(self, incident: Incident) -> Incident:
        self.incidents[incident.id] = incident
        self.effects.incidents[incident.id] = incident
        return incident

    def _record(self, decision: Decision) -> None:
        self.effects.decisions.append(decision)

    def _cancel(self, incident_id: str) -> None:
        """Nobody needs paging for it any more: drop its pending steps and unsent pages, this batch's too."""
        self.effects.cancelled.add(incident_id)
        self.effects.pages = [p for p in self.effects.pages if p.incident_id != incident_id]
        self.effects.steps = [s for s in self.effects.steps if s.incident_id != incident_id]

    # ------------------------------------------------------------------------------------------ trigger

    def _trigger(self, event: AlertEvent) -> None:
        route = resolve_route(self.config.config, event.labels, event.bound_service)
        decision = self._event_decision(event, route)
        occurred = self._clamped(event, decision)
        started = event.episode_started_at
        if started is not None:
            started, _ = clamp(started, event.received_at, self.rules.clock_skew_seconds)
        alert = self.alerts.get(event.dedup_key)
        resolved = alert is not None and alert.status is AlertStatus.RESOLVED
        if resolved and alert is not None and self._resolved_already(alert, occurred, started, decision):
            self._record(decision)
            return
        live = self._live_incident(alert)
        if alert is not None and live is not None:
            self._duplicate(event, alert, live, occurred, decision)
            return
        cause = _suppression_cause(alert)
        if alert is None or alert.status is AlertStatus.RESOLVED or alert.status is AlertStatus.FIRING:
            alert = self._new_episode(event, alert, occurred, started)
        else:
            alert = replace(
                alert,
                summary=event.summary or alert.summary,
                labels=event.labels,
                bound_service=event.bound_service,
                repeat_count=alert.repeat_count + 1,
                last_event_at=max(alert.last_event_at, occurred),
            )
        self._place(alert, decision, cause, received_at=event.received_at, event_id=str(event.event_id))

    def _resolved_already(self, alert: Alert, occurred: datetime, started: datetime | None, decision: Decision) -> bool:
        if started is not None and alert.episode_started_at == started:
            where = f" in incident {alert.incident_id}" if alert.incident_id else ""
            _suppress(decision, "resolved_episode", f"this episode was already resolved{where}")
            decision.incident_id = alert.incident_id
            return True
        if alert.resolved_at is not None and occurred < alert.resolved_at:
            reason = f"trigger happened before the alert's last resolve ({alert.resolved_at.isoformat()})"
            _suppress(decision, "out_of_order", reason)
            decision.incident_id = alert.incident_id
            return True
        return False

    def _live_incident(self, alert: Alert | None) -> Incident | None:
        if alert is None or alert.status is not AlertStatus.FIRING or alert.incident_id is None:
            return None
        found = self.incidents.get(alert.incident_id)
        return found if found is not None and found.live else None

    def _duplicate(
        self, event: AlertEvent, alert: Alert, incident: Incident, occurred: datetime, decision: Decision
    ) -> None:
        self._put_alert(
            replace(
                alert,
                summary=event.summary or alert.summary,
                repeat_count=alert.repeat_count + 1,
                last_event_at=max(alert.last_event_at, occurred),
            )
        )
        incident = self._put_incident(replace(incident, last_event_at=max(incident.last_event_at, occurred)))
        _set(decision, Outcome.DUPLICATE, f"alert is already firing in incident {incident.id}", incident)
        self._record(decision)

    def _new_episode(
        self, event: AlertEvent, before: Alert | None, occurred: datetime, started: datetime | None
    ) -> Alert:
        return Alert(
            dedup_key=event.dedup_key,
            status=AlertStatus.FIRING,
            incident_id=None,
            suppressed_by=None,
            recheck_at=None,
            service_id=None,
            team_id=None,
            policy_id=None,
            source=event.source.value,
            integration_id=event.integration_id,
            bound_service=event.bound_service,
            summary=event.summary,
            severity=event.severity.value,
            labels=event.labels,
            episode_started_at=started,
            episode_opened_at=occurred,
            first_event_at=before.first_event_at if before is not None else occurred,
            last_event_at=occurred,
            repeat_count=0,
            resolved_at=before.resolved_at if before is not None else None,
            updated_at=self.now,
        )

    def _place(
        self,
        alert: Alert,
        decision: Decision,
        cause: str | None,
        *,
        received_at: datetime | None,
        event_id: str | None,
    ) -> None:
        """Give a firing alert its home: suppressed (and why), grouped into an open incident, or a new incident."""
        route = resolve_route(self.config.config, alert.labels, alert.bound_service)
        alert = replace(alert, service_id=route.service_id, team_id=route.team_id, policy_id=route.escalation_policy_id)
        if cause is not None:
            decision.explanation["previously_suppressed_by"] = cause
        if route.service_id is None or route.escalation_policy_id is None:
            self._put_alert(_suppressed(alert, SuppressedBy.NO_ROUTE, None))
            _set(decision, Outcome.NO_ROUTE, route.reason, None)
            self._record(decision)
            return
        service = self.config.services_by_id[route.service_id]
        if received_at is not None:
            age = (self.now - received_at).total_seconds()
            if age > self.rules.max_event_age_seconds:
                self._put_alert(_suppressed(alert, SuppressedBy.STALE, None))
                reason = (
                    f"event was received {age:.0f}s ago (backlog; max {self.rules.max_event_age_seconds}s): no page;"
                    " the next fresh trigger of this alert pages"
                )
                _suppress(decision, "stale", reason)
                self._record(decision)
                return
        window = self.maintenance.covering(service, self.now)
        if window is not None:
            recheck = min(window.until, self.now + timedelta(seconds=self.rules.recheck_max_seconds))
            self._put_alert(_suppressed(alert, SuppressedBy.MAINTENANCE, recheck))
            _suppress(decision, "maintenance", f"service {service.id} is in maintenance: {window.description}")
            decision.explanation["maintenance_until"] = window.until.isoformat()
            self._record(decision)
            return
        prefix = _CAUSE_PREFIX.get(cause or "", "")
        key = group_key(service, alert.labels)
        group = newest_open_group(self.incidents.values(), key, service, self.now)
        if group is not None:
            self._join(alert, group, decision, prefix)
            return
        self._open(alert, route, decision, prefix, key, event_id)

    def _join(self, alert: Alert, group: Incident, decision: Decision, prefix: str) -> None:
        self._put_alert(
            replace(alert, status=AlertStatus.FIRING, incident_id=group.id, suppressed_by=None, recheck_at=None)
        )
        group = self._put_incident(
            replace(
                group,
                alert_count=group.alert_count + 1,
                firing_count=group.firing_count + 1,
                last_event_at=max(group.last_event_at, alert.last_event_at),
            )
        )
        self.members.setdefault(group.id, []).append(PageAlert(dedup_key=alert.dedup_key, summary=alert.summary))
        reason = f"{prefix}grouped into incident {group.id} ({group.alert_count} alerts; group {group.group_key})"
        _set(decision, Outcome.GROUPED, reason, group)
        self._record(decision)

    def _open(
        self, alert: Alert, route: RouteMatch, decision: Decision, prefix: str, key: str | None, event_id: str | None
    ) -> None:
        incident_id = derived_id("incident", event_id) if event_id else str(uuid.uuid4())
        incident = self._put_incident(
            Incident(
                id=incident_id,
                dedup_key=alert.dedup_key,
                status=IncidentStatus.TRIGGERED,
                service_id=route.service_id,
                team_id=route.team_id,
                policy_id=route.escalation_policy_id,
                summary=alert.summary,
                severity=alert.severity,
                labels=alert.labels,
                alert_count=1,
                firing_count=1,
                group_key=key,
                opened_at=self.now,
                first_event_at=alert.episode_opened_at,
                last_event_at=alert.last_event_at,
                acknowledged_at=None,
                acknowledged_by=None,
                resolved_at=None,
                resolved_by=None,
                config_version=self.config.version,
            )
        )
        self._put_alert(
            replace(alert, status=AlertStatus.FIRING, incident_id=incident.id, suppressed_by=None, recheck_at=None)
        )
        self.members[incident.id] = [PageAlert(dedup_key=alert.dedup_key, summary=alert.summary)]
        self.effects.opened.append(incident)
        self._escalate(incident, 0, 0, decision)
        if prefix:
            decision.reason = prefix + decision.reason
        self._record(decision)

    # ------------------------------------------------------------------------------------------ escalation

    def _escalate(self, incident: Incident, round_: int, level: int, decision: Decision) -> None:
        """Page (round, level); levels that reach nobody are skipped at once and recorded in the explanation."""
        assert incident.policy_id is not None
        policy = self.config.policies_by_id[incident.policy_id]
        skipped: list[dict[str, Any]] = []
        position: tuple[int, int] | None = (round_, level)
        while position is not None:
            round_, level = position
            plan = self._plan(incident.policy_id, round_, level)
            explained = explain_targets(plan)
            if any(t.notifications for t in plan.targets):
                members = self.members.get(incident.id, [])
                pages = build_pages(self.config, incident, plan, decision.id, self.now, members)
                self.effects.pages.extend(pages)
                after = next_position(round_, level, len(policy.levels), policy.repeat)
                next_due = self.now + timedelta(minutes=plan.delay_minutes)
                if after is not None:
                    self.effects.steps.append(Step(incident.id, after[0], after[1], next_due))
                paged = ", ".join(t["user"] for t in explained if t["notifications"])
                reason = f"paged level {level + 1} (round {round_ + 1}) of policy {policy.id}: {paged}"
                _set(decision, Outcome.PAGED, reason, incident)
                decision.level = level + 1
                decision.explanation |= {
                    "level": level + 1,
                    "round": round_ + 1,
                    "targets": explained,
                    "skipped_levels": skipped,
                    "pages": [p.page_id for p in pages],
                    "next_escalation": {"at": next_due.isoformat(), "round": after[0] + 1, "level": after[1] + 1}
                    if after
                    else None,
                }
                return
            skipped.append(
                {"level": level + 1, "round": round_ + 1, "targets": explained, "reason": "nobody reachable"}
            )
            position = next_position(round_, level, len(policy.levels), policy.repeat)
        reason = f"no level of policy {policy.id} reaches anyone right now"
        _set(decision, Outcome.NOBODY_ON_CALL, reason, incident)
        decision.explanation |= {"skipped_levels": skipped, "targets": []}

    def _due_step(self, step: Step) -> None:
        incident = self.incidents.get(step.incident_id)
        if incident is None or incident.status is not IncidentStatus.TRIGGERED:
            return
        decision = Decision(
            id=derived_id("decision", step.key),
            outcome=Outcome.ESCALATION_ENDED,
            reason="",
            kind=DecisionKind.ESCALATION,
            step_key=step.key,
            incident_id=incident.id,
            dedup_key=incident.dedup_key,
            service_id=incident.service_id,
            team_id=incident.team_id,
            policy_id=incident.policy_id,
            config_version=self.config.version,
            explanation={"step": {"round": step.round + 1, "level": step.level + 1, "due_at": step.due_at.isoformat()}},
        )
        if incident.policy_id not in self.config.policies_by_id:
            decision.reason = (
                f"policy {incident.policy_id} no longer exists in configuration {self.config.short_version}"
            )
        else:
            self._escalate(incident, step.round, step.level, decision)
            decision.reason = f"not acknowledged in time: {decision.reason}"
        self._record(decision)

    # ------------------------------------------------------------------------------------------ recheck

    def _recheck(self, item: Recheck) -> None:
        alert = self.alerts.get(item.dedup_key)
        if alert is None or alert.status is not AlertStatus.SUPPRESSED:
            return
        if alert.service_id is not None and alert.service_id in self.config.services_by_id:
            window = self.maintenance.covering(self.config.services_by_id[alert.service_id], self.now)
            if window is not None:  # still (or again) in maintenance: look again later, nothing to record
                recheck = min(window.until, self.now + timedelta(seconds=self.rules.recheck_max_seconds))
                self._put_alert(replace(alert, recheck_at=recheck))
                return
        route = resolve_route(self.config.config, alert.labels, alert.bound_service)
        decision = Decision(
            outcome=Outcome.SUPPRESSED,
            reason="",
            kind=DecisionKind.RECHECK,
            dedup_key=alert.dedup_key,
            service_id=route.service_id,
            team_id=route.team_id,
            policy_id=route.escalation_policy_id,
            config_version=self.config.version,
            explanation={"alert": _alert_explanation(alert), "route": route_explanation(route)},
        )
        self._place(alert, decision, _suppression_cause(alert), received_at=None, event_id=None)

    # ------------------------------------------------------------------------------------------ resolve, acknowledge

    def _resolve_event(self, event: AlertEvent) -> None:
        route = resolve_route(self.config.config, event.labels, event.bound_service)
        decision = self._event_decision(event, route)
        occurred = self._clamped(event, decision)
        by = f"source:{event.integration_id}"
        alert = self.alerts.get(event.dedup_key)
        if alert is None:
            first = self._new_episode(event, None, occurred, event.episode_started_at)
            self._put_alert(
                replace(
                    first,
                    status=AlertStatus.RESOLVED,
                    resolved_at=occurred,
                    service_id=route.service_id,
                    team_id=route.team_id,
                    policy_id=route.escalation_policy_id,
                )
            )
            _set(
                decision,
                Outcome.RESOLVED,
                "no alert was firing for this dedup key: the resolve is kept for ordering checks, no incident",
                None,
            )
            self._record(decision)
            return
        if alert.status is AlertStatus.RESOLVED:
            later = max(alert.resolved_at or occurred, occurred)
            self._put_alert(replace(alert, resolved_at=later, last_event_at=max(alert.last_event_at, occurred)))
            _set(decision, Outcome.RESOLVED, "the alert was already resolved", None)
            decision.incident_id = alert.incident_id
            self._record(decision)
            return
        started = event.episode_started_at
        if started is not None and alert.episode_started_at is not None and started < alert.episode_started_at:
            _suppress(decision, "earlier_episode", "this resolve belongs to an earlier episode: the alert stays firing")
            decision.incident_id = alert.incident_id
            self._record(decision)
            return
        self._put_alert(
            replace(
                alert,
                status=AlertStatus.RESOLVED,
                resolved_at=occurred,
                suppressed_by=None,
                recheck_at=None,
                last_event_at=max(alert.last_event_at, occurred),
            )
        )
        incident = self._live_incident(alert)
        if incident is None:
            was = alert.suppressed_by.value if alert.suppressed_by else "not in an incident"
            _set(decision, Outcome.RESOLVED, f"alert resolved; it had paged nobody ({was})", None)
            self._record(decision)
            return
        remaining = max(0, incident.firing_count - 1)
        incident = self._put_incident(replace(incident, firing_count=remaining))
        if remaining == 0:
            incident = self._close(incident, by, max(occurred, incident.opened_at))
            reason = f"incident {incident.id} resolved: all its {incident.alert_count} alert(s) have resolved"
        else:
            still = f"{remaining} of {incident.alert_count} alerts still firing"
            reason = f"alert resolved; incident {incident.id} stays open: {still}"
        _set(decision, Outcome.RESOLVED, reason, incident)
        self._record(decision)

    def _acknowledge_event(self, event: AlertEvent) -> None:
        route = resolve_route(self.config.config, event.labels, event.bound_service)
        decision = self._event_decision(event, route)
        incident = self._live_incident(self.alerts.get(event.dedup_key))
        if incident is None:
            _set(decision, Outcome.ACKNOWLEDGED, "no open incident for this dedup key: recorded, nothing to stop", None)
        elif incident.status is IncidentStatus.ACKNOWLEDGED:
            _set(decision, Outcome.ACKNOWLEDGED, f"incident {incident.id} was already acknowledged", incident)
        else:
            incident = self._acknowledge(incident, f"source:{event.integration_id}")
            _set(decision, Outcome.ACKNOWLEDGED, f"incident {incident.id} acknowledged by the source", incident)
        self._record(decision)

    def _acknowledge(self, incident: Incident, by: str) -> Incident:
        incident = self._put_incident(
            replace(incident, status=IncidentStatus.ACKNOWLEDGED, acknowledged_at=self.now, acknowledged_by=by)
        )
        self._cancel(incident.id)
        self.effects.acknowledged.append(incident)
        return incident

    def _close(self, incident: Incident, by: str, at: datetime) -> Incident:
        incident = self._put_incident(replace(incident, status=IncidentStatus.RESOLVED, resolved_at=at, resolved_by=by))
        self._cancel(incident.id)
        self.effects.resolved.append(incident)
        return incident

    def _manual(self, action: ManualAction) -> None:
        incident = self.incidents.get(action.incident_id)
        if incident is None or not incident.live:
            return
        if action.action == "acknowledge":
            if incident.status is IncidentStatus.ACKNOWLEDGED:
                return
            incident = self._acknowledge(incident, action.by)
            outcome = Outcome.ACKNOWLEDGED
        else:
            incident = self._close(replace(incident, firing_count=0), action.by, max(self.now, incident.opened_at))
            for alert in list(self.alerts.values()):
                if alert.incident_id == incident.id and alert.status is AlertStatus.FIRING:
                    self._put_alert(replace(alert, status=AlertStatus.RESOLVED, resolved_at=self.now))
            self.effects.resolved_members[incident.id] = self.now
            outcome = Outcome.RESOLVED
        reason = f"{action.action}d by {action.by}" + (f": {action.note}" if action.note else "")
        decision = Decision(
            outcome=outcome,
            reason=reason,
            kind=DecisionKind.MANUAL,
            incident_id=incident.id,
            dedup_key=incident.dedup_key,
            service_id=incident.service_id,
            team_id=incident.team_id,
            policy_id=incident.policy_id,
            config_version=self.config.version,
            explanation={"by": action.by, "note": action.note, "action": action.action},
        )
        _set(decision, outcome, reason, incident)
        self._record(decision)

    # ------------------------------------------------------------------------------------------ helpers

    def _event_decision(self, event: AlertEvent, route: RouteMatch) -> Decision:
        return Decision(
            id=derived_id("decision", str(event.event_id)),
            outcome=Outcome.NO_ROUTE,
            reason="",
            event_id=str(event.event_id),
            dedup_key=event.dedup_key,
            service_id=route.service_id,
            team_id=route.team_id,
            policy_id=route.escalation_policy_id,
            config_version=self.config.version,
            explanation=event_explanation(event, route, self.config.version),
        )

    def _clamped(self, event: AlertEvent, decision: Decision) -> datetime:
        occurred, clamped = clamp(event.occurred_at, event.received_at, self.rules.clock_skew_seconds)
        if clamped:
            decision.explanation["clamped"] = {
                "occurred_at": event.occurred_at.isoformat(),
                "to": occurred.isoformat(),
                "why": f"later than receipt plus the {self.rules.clock_skew_seconds}s clock-skew allowance",
            }
        return occurred


_CAUSE_PREFIX = {
    SuppressedBy.MAINTENANCE.value: "maintenance ended: ",
    SuppressedBy.STALE.value: "a fresh trigger after a stale one: ",
    SuppressedBy.NO_ROUTE.value: "now routable: ",
}


def _suppression_cause(alert: Alert | None) -> str | None:
    if alert is None or alert.status is not AlertStatus.SUPPRESSED or alert.suppressed_by is None:
        return None
    return alert.suppressed_by.value


def _suppressed(alert: Alert, by: SuppressedBy, recheck_at: datetime | None) -> Alert:
    return replace(alert, status=AlertStatus.SUPPRESSED, suppressed_by=by, recheck_at=recheck_at, incident_id=None)


def _suppress(decision: Decision, by: str, reason: str) -> None:
    decision.outcome = Outcome.SUPPRESSED
    decision.reason = reason
    decision.explanation["suppressed_by"] = by


def _set(decision: Decision, outcome: Outcome, reason: str, incident: Incident | None) -> None:
    decision.outcome = outcome
    decision.reason = reason
    if incident is not None:
        decision.incident_id = incident.id
        decision.explanation["incident"] = {
            "id": incident.id,
            "status": incident.status.value,
            "alert_count": incident.alert_count,
            "firing_count": incident.firing_count,
        }


def _alert_explanation(alert: Alert) -> dict[str, Any]:
    return {
        "dedup_key": alert.dedup_key,
        "summary": alert.summary,
        "labels": alert.labels,
        "suppressed_by": alert.suppressed_by.value if alert.suppressed_by else None,
        "firing_since": alert.episode_opened_at.isoformat(),
    }
