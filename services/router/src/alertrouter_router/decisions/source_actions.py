"""The rules for a source's resolve and acknowledge: what the monitoring system says about an alert it raised.

A resolve ends the alert's episode (a resolve for an earlier episode is recorded and changes nothing) and closes
the incident when none of its alerts still fire; a resolve with no alert firing is kept, for the ordering checks
of a late trigger. An acknowledge from the source acknowledges the live incident, as a person would.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from alertrouter_router.decisions import Decision, Outcome
from alertrouter_router.decisions.alert_rules import SOURCE_ACTOR, AlertRules
from alertrouter_router.decisions.alerts import Alert, AlertStatus, routing_integration
from alertrouter_router.decisions.batch import set_outcome, suppress
from alertrouter_router.decisions.beats import beat_of
from alertrouter_router.decisions.incidents import IncidentStatus
from alertrouter_router.ownership.routing import resolve_route
from alertrouter_shared.events import AlertEvent


class SourceActionRules(AlertRules):
    def resolve_event(self, event: AlertEvent) -> None:
        heard = beat_of(event, self.config, self.now)
        if heard is not None:
            self.effects.beats[heard.integration_id] = heard
            self.last_beats[heard.integration_id] = heard.at
        route = resolve_route(self.config.config, event.labels, event.bound_service, routing_integration(event))
        decision = self.event_decision(event, route)
        occurred = self.clamped(event, decision)
        alert = self.alerts.get(event.dedup_key)
        if alert is None:
            first = self._new_episode(event, None, occurred, event.episode_started_at)
            first = replace(first, service_id=route.service_id, team_id=route.team_id)
            self.put_alert(
                replace(
                    first,
                    status=AlertStatus.RESOLVED,
                    resolved_at=occurred,
                    policy_id=route.escalation_policy_id,
                    resolved_by_source=True,
                )
            )
            reason = "no alert was firing for this dedup key: the resolve is kept for ordering checks, no incident"
            set_outcome(decision, Outcome.RESOLVED, reason, None)
        elif alert.status is AlertStatus.RESOLVED:
            later = max(alert.resolved_at or occurred, occurred)
            self.put_alert(
                replace(
                    alert,
                    resolved_at=later,
                    last_event_at=max(alert.last_event_at, occurred),
                    # after a person's resolve, the source's own says the episode ended at the source too
                    resolved_by_source=alert.resolved_by_source
                    or not _earlier_episode(event.episode_started_at, alert),
                )
            )
            set_outcome(decision, Outcome.RESOLVED, "the alert was already resolved", None)
            decision.incident_id = alert.incident_id
        elif _earlier_episode(event.episode_started_at, alert):
            suppress(decision, "earlier_episode", "this resolve belongs to an earlier episode: the alert stays firing")
            decision.incident_id = alert.incident_id
        else:
            self._resolve_firing(alert, occurred, f"{SOURCE_ACTOR}{event.integration_id}", decision)
        self.record(decision)

    def _resolve_firing(self, alert: Alert, occurred: datetime, by: str, decision: Decision) -> None:
        resolved = replace(
            alert,
            status=AlertStatus.RESOLVED,
            resolved_at=occurred,
            suppressed_by=None,
            recheck_at=None,
            resolved_by_source=True,
        )
        self.put_alert(replace(resolved, last_event_at=max(alert.last_event_at, occurred)))
        incident = self.live_incident(alert)
        if incident is None:
            was = alert.suppressed_by.value if alert.suppressed_by else "not in an incident"
            set_outcome(decision, Outcome.RESOLVED, f"alert resolved; it had paged nobody ({was})", None)
            return
        remaining = max(0, incident.firing_count - 1)
        incident = self.put_incident(replace(incident, firing_count=remaining))
        if remaining == 0:
            incident = self.close(incident, by, max(occurred, incident.opened_at))
            reason = f"incident {incident.id} resolved: all its {incident.alert_count} alert(s) have resolved"
        else:
            still = f"{remaining} of {incident.alert_count} alerts still firing"
            reason = f"alert resolved; incident {incident.id} stays open: {still}"
        set_outcome(decision, Outcome.RESOLVED, reason, incident)

    def acknowledge_event(self, event: AlertEvent) -> None:
        route = resolve_route(self.config.config, event.labels, event.bound_service, routing_integration(event))
        decision = self.event_decision(event, route)
        incident = self.live_incident(self.alerts.get(event.dedup_key))
        if incident is None:
            reason = "no open incident for this dedup key: recorded, nothing to stop"
            set_outcome(decision, Outcome.ACKNOWLEDGED, reason, None)
        elif incident.status is IncidentStatus.ACKNOWLEDGED:
            set_outcome(decision, Outcome.ACKNOWLEDGED, f"incident {incident.id} was already acknowledged", incident)
        else:
            incident = self.acknowledge(incident, f"{SOURCE_ACTOR}{event.integration_id}")
            set_outcome(decision, Outcome.ACKNOWLEDGED, f"incident {incident.id} acknowledged by the source", incident)
        self.record(decision)


def _earlier_episode(started: datetime | None, alert: Alert) -> bool:
    return started is not None and alert.episode_started_at is not None and started < alert.episode_started_at
