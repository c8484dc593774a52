"""The rules for a trigger from a source, and for rechecks of suppressed alerts (resolve and acknowledge by the
source: ``source_actions.py``).

In the order they are tried for a trigger: a heartbeat's silent alert that a beat heard since makes moot, a
repeat of an episode already resolved (same source start) and a trigger older than the last resolve are recorded
and page nobody (event times later than receipt plus the skew allowance are clamped to the receipt); a trigger of
an alert firing in a live incident is a duplicate; otherwise the alert needs an incident: a drill's alert past the
drill's time limit is resolved (it pages nobody); no route, a stale backlog event or a maintenance window suppress
it (recorded on the alert, never as an incident, and looked at again: maintenance at its end, the others at the
next fresh trigger); else it joins the newest open incident of its group within the service's grouping window, or
opens one and pages its first escalation level.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from alertrouter_router.decisions import Decision, DecisionKind, Outcome, derived_id, route_explanation
from alertrouter_router.decisions.alerts import Alert, AlertStatus, SuppressedBy, routing_integration
from alertrouter_router.decisions.batch import Batch, clamp, set_outcome, suppress
from alertrouter_router.decisions.beats import heard_since
from alertrouter_router.decisions.grouping import group_key, newest_open_group
from alertrouter_router.decisions.incidents import DRILL_DEFAULT_MINUTES, Incident, IncidentStatus
from alertrouter_router.decisions.inputs import Recheck
from alertrouter_router.ownership.routing import RouteMatch, resolve_route
from alertrouter_shared.events import AlertEvent, AlertSource, PageAlert

_CAUSE_PREFIX = {
    SuppressedBy.MAINTENANCE.value: "maintenance ended: ",
    SuppressedBy.STALE.value: "a fresh trigger after a stale one: ",
    SuppressedBy.NO_ROUTE.value: "now routable: ",
}


# Sources that report an alert's state again and again (not its transitions): the same episode can fire again.
_REPORTS_STATE = frozenset({AlertSource.ALERTMANAGER, AlertSource.GRAFANA})
_REPEATS = frozenset(s.value for s in _REPORTS_STATE)
_STALE_RECHECKED = "still firing after the backlog it came in: "
# A stale trigger of a source that sends it once (a CloudWatch alarm, an Events v2 trigger) is looked at again this
# long after: the backlog it came in (a resolve of it among them) is read by then. Left for its next trigger, an
# alarm accepted during a router outage never paged: CloudWatch notifies once per state change.
STALE_RECHECK_SECONDS = 60
SOURCE_ACTOR = "source:"  # the actor prefix of what a source did (its resolve or acknowledge)


class AlertRules(Batch):
    def trigger(self, event: AlertEvent) -> None:
        route = resolve_route(self.config.config, event.labels, event.bound_service, routing_integration(event))
        decision = self.event_decision(event, route)
        occurred = self.clamped(event, decision)
        started = event.episode_started_at
        if started is not None:
            started, _ = clamp(started, event.received_at, self.rules.clock_skew_seconds)
        alert = self.alerts.get(event.dedup_key)
        last_beat = self.last_beats.get(event.integration_id)
        if heard_since(event, self.config, last_beat, occurred):
            reason = (
                f"heartbeat {event.integration_id} beat at {last_beat.isoformat() if last_beat else '?'}, after this "
                f"alert of its silence was raised: it was not overdue at {occurred.isoformat()}"
            )
            suppress(decision, "out_of_order", reason)
            decision.incident_id = alert.incident_id if alert is not None else None
            self.record(decision)
            return
        resolved = alert is not None and alert.status is AlertStatus.RESOLVED
        if resolved and alert is not None and self._resolved_already(event, alert, occurred, started, decision):
            self.record(decision)
            return
        live = self.live_incident(alert)
        if alert is not None and live is not None:
            self._duplicate(event, alert, live, occurred, started, decision)
            return
        cause = _suppression_cause(alert)
        if alert is None or alert.status is not AlertStatus.SUPPRESSED:
            alert = self._new_episode(event, alert, occurred, started)
        else:
            alert = replace(
                alert,
                summary=event.summary or alert.summary,
                labels=event.labels,
                bound_service=event.bound_service,
                repeat_count=alert.repeat_count + 1,
                last_event_at=max(alert.last_event_at, occurred),
                episode_started_at=alert.later_start(started),
            )
        # the alert carries the event's labels and bound service, so the route found above is the alert's
        self._place(alert, decision, cause, received_at=event.received_at, event_id=str(event.event_id), route=route)

    def _resolved_already(
        self, event: AlertEvent, alert: Alert, occurred: datetime, started: datetime | None, decision: Decision
    ) -> bool:
        if self._fired_again(event, alert, started):
            decision.explanation["fired_again"] = (
                f"{event.source.value} reports this episode firing again after resolving it "
                f"({alert.resolved_at.isoformat() if alert.resolved_at else '?'}): a new episode"
            )
            return False
        if started is not None and alert.episode_started_at == started:
            where = f" in incident {alert.incident_id}" if alert.incident_id else ""
            suppress(decision, "resolved_episode", f"this episode was already resolved{where}")
            decision.incident_id = alert.incident_id
            return True
        if alert.resolved_at is not None and occurred < alert.resolved_at:
            reason = f"trigger happened before the alert's last resolve ({alert.resolved_at.isoformat()})"
            suppress(decision, "out_of_order", reason)
            decision.incident_id = alert.incident_id
            return True
        return False

    def _fired_again(self, event: AlertEvent, alert: Alert, started: datetime | None) -> bool:
        """The source resolved this episode and now reports it firing again, received after that resolve: live.

        Alertmanager resolves an alert that Prometheus stopped sending for a while (an outage or a restart longer
        than the alert's end time) and, once Prometheus sends it again with the same start (restored for ``for``
        rules), notifies it firing again; Grafana's alerting does the same. After a person's resolve (and until the
        source's own), the source's repeats of the episode stay ignored. CloudWatch reports transitions, each with
        its own time: the same episode again is a replay."""
        if event.source not in _REPORTS_STATE or started is None or started != alert.episode_started_at:
            return False
        return alert.resolved_by_source and alert.resolved_at is not None and event.received_at >= alert.resolved_at

    def live_incident(self, alert: Alert | None) -> Incident | None:
        if alert is None or alert.status is not AlertStatus.FIRING or alert.incident_id is None:
            return None
        found = self.incidents.get(alert.incident_id)
        return found if found is not None and found.live else None

    def _duplicate(
        self,
        event: AlertEvent,
        alert: Alert,
        incident: Incident,
        occurred: datetime,
        started: datetime | None,
        decision: Decision,
    ) -> None:
        """A later episode start moves the alert's on: an OK received after a newer ALARM (SNS keeps no order) closed
        the incident of the alarm still firing, and CloudWatch, notifying once per change, never paged again."""
        self.put_alert(
            replace(
                alert,
                summary=event.summary or alert.summary,
                repeat_count=alert.repeat_count + 1,
                last_event_at=max(alert.last_event_at, occurred),
                episode_started_at=alert.later_start(started),
            )
        )
        if occurred > incident.last_event_at:
            incident = self.put_incident(replace(incident, last_event_at=occurred))
        set_outcome(decision, Outcome.DUPLICATE, f"alert is already firing in incident {incident.id}", incident)
        self.record(decision)

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
            drill=event.drill,
            drill_ends_at=_drill_end(event, occurred),
        )

    def _place(
        self,
        alert: Alert,
        decision: Decision,
        cause: str | None,
        *,
        received_at: datetime | None,
        event_id: str | None,
        route: RouteMatch | None = None,
        said: str | None = None,
    ) -> None:
        """Give a firing alert its home: suppressed (and why), grouped into an open incident, or a new incident.
        ``said`` starts the reason in place of what its cause says of a trigger (a recheck says its own)."""
        if route is None:
            route = resolve_route(self.config.config, alert.labels, alert.bound_service, routing_integration(alert))
        alert = replace(alert, service_id=route.service_id, team_id=route.team_id, policy_id=route.escalation_policy_id)
        if cause is not None:
            decision.explanation["previously_suppressed_by"] = cause
        if alert.drill and alert.drill_ends_at is not None and self.now >= alert.drill_ends_at:
            self._drill_over(alert, decision)
            return
        if route.service_id is None or route.escalation_policy_id is None:
            self.put_alert(alert.suppressed(SuppressedBy.NO_ROUTE, None, self.config.version))
            set_outcome(decision, Outcome.NO_ROUTE, route.reason, None)
            self.record(decision)
            return
        service = self.config.services_by_id[route.service_id]
        if received_at is not None:
            age = (self.now - received_at).total_seconds()
            if age > self.rules.max_event_age_seconds:
                # A late repeat of an alert waiting out a maintenance window keeps that wait: replacing it with a
                # stale suppression dropped the recheck that pages it when the window ends.
                waiting = alert.status is AlertStatus.SUPPRESSED and alert.recheck_at is not None
                recheck = None if alert.source in _REPEATS else self.now + timedelta(seconds=STALE_RECHECK_SECONDS)
                self.put_alert(alert if waiting else alert.suppressed(SuppressedBy.STALE, recheck))
                then = "the next fresh trigger of this alert pages"
                if recheck is not None:
                    then = (
                        f"{alert.source} does not send it again: looked at again at {recheck.isoformat()}, "
                        "once the backlog it came in is read, and paged if still firing"
                    )
                reason = f"event was received {age:.0f}s ago (backlog; max {self.rules.max_event_age_seconds}s): "
                suppress(decision, "stale", f"{reason}no page now; {then}")
                self.record(decision)
                return
        window = self.maintenance.covering(service, self.now)
        if window is not None:
            recheck = min(window.until, self.now + timedelta(seconds=self.rules.recheck_max_seconds))
            self.put_alert(alert.suppressed(SuppressedBy.MAINTENANCE, recheck))
            suppress(decision, "maintenance", f"service {service.id} is in maintenance: {window.description}")
            decision.explanation["maintenance_until"] = window.until.isoformat()
            self.record(decision)
            return
        prefix = _CAUSE_PREFIX.get(cause or "", "") if said is None else said
        key = group_key(service, alert.labels)
        group = newest_open_group(self.incidents.values(), key, service, self.now, drill=alert.drill)
        if group is not None:
            self._join(alert, group, decision, prefix)
            return
        self._open(alert, route, decision, prefix, key, event_id)

    def _drill_over(self, alert: Alert, decision: Decision) -> None:
        """A drill's alert routed (or looked at again) after the drill's time limit: the drill is over, nobody is
        paged for it (a router far behind on the alerts topic, a drill held back by maintenance until its end)."""
        ended = alert.drill_ends_at.isoformat() if alert.drill_ends_at else "?"
        self.put_alert(
            replace(
                alert,
                status=AlertStatus.RESOLVED,
                resolved_at=self.now,
                suppressed_by=None,
                recheck_at=None,
                incident_id=None,
            )
        )
        reason = f"drill ended: time limit ({ended}) passed before its alert paged anyone: nobody paged"
        set_outcome(decision, Outcome.RESOLVED, reason, None)
        decision.explanation["drill_ended"] = {"reason": "time limit", "ends_at": ended, "status": "not paged"}
        self.record(decision)

    def _join(self, alert: Alert, group: Incident, decision: Decision, prefix: str) -> None:
        self.put_alert(
            replace(alert, status=AlertStatus.FIRING, incident_id=group.id, suppressed_by=None, recheck_at=None)
        )
        group = self.put_incident(
            replace(
                group,
                alert_count=group.alert_count + 1,
                firing_count=group.firing_count + 1,
                last_event_at=max(group.last_event_at, alert.last_event_at),
            )
        )
        self.members.setdefault(group.id, []).append(PageAlert(dedup_key=alert.dedup_key, summary=alert.summary))
        reason = f"{prefix}grouped into incident {group.id} ({group.alert_count} alerts; group {group.group_key})"
        set_outcome(decision, Outcome.GROUPED, reason, group)
        self.record(decision)

    def _open(
        self, alert: Alert, route: RouteMatch, decision: Decision, prefix: str, key: str | None, event_id: str | None
    ) -> None:
        incident_id = derived_id("incident", event_id) if event_id else str(uuid.uuid4())
        incident = self.put_incident(
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
                drill=alert.drill,
                drill_ends_at=alert.drill_ends_at if alert.drill else None,
                integration_id=alert.integration_id,
            )
        )
        self.put_alert(
            replace(alert, status=AlertStatus.FIRING, incident_id=incident.id, suppressed_by=None, recheck_at=None)
        )
        self.members[incident.id] = [PageAlert(dedup_key=alert.dedup_key, summary=alert.summary)]
        self.effects.opened.append(incident)
        self.escalate(incident, 0, 0, decision)
        if prefix:
            decision.reason = prefix + decision.reason
        self.record(decision)

    # ------------------------------------------------------------------------------------------ recheck

    def recheck(self, item: Recheck) -> None:
        alert = self.alerts.get(item.dedup_key)
        if alert is None or alert.status is not AlertStatus.SUPPRESSED:
            return
        over = alert.drill and alert.drill_ends_at is not None and self.now >= alert.drill_ends_at
        # The service it routes to now, not the one it was suppressed for: a reload may have moved it to a service
        # out of maintenance, and the old one's window (days, for a service being retired) held it back.
        route = resolve_route(self.config.config, alert.labels, alert.bound_service, routing_integration(alert))
        service = self.config.services_by_id.get(route.service_id or "")
        if not over and service is not None and alert.suppressed_by is SuppressedBy.MAINTENANCE:
            # Held by another reason until now (no route before a reload, a stale trigger), it is placed below: the
            # suppression by the window is recorded, else its record went on saying "no route" or "paged if still
            # firing", and ending the window early (which rechecks the alerts suppressed by maintenance) missed it.
            window = self.maintenance.covering(service, self.now)
            if window is not None:  # still (or again) in maintenance: look again later, nothing to record
                recheck = min(window.until, self.now + timedelta(seconds=self.rules.recheck_max_seconds))
                # for the service whose window holds it now: ending that window early makes it due at once
                owner = replace(
                    alert, service_id=service.id, team_id=route.team_id, policy_id=route.escalation_policy_id
                )
                self.put_alert(replace(owner, recheck_at=recheck))
                return
        unrouted = route.service_id is None or route.escalation_policy_id is None
        if not over and alert.suppressed_by is SuppressedBy.NO_ROUTE and unrouted:
            # looked at again after a configuration change (``db/alert_rechecks``) and still unrouted: its no-route
            # decision stands, and a decision at every reload for every such alert would bury the ones that matter
            self.put_alert(replace(alert, recheck_at=None, no_route_version=self.config.version))
            return
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
        said = _STALE_RECHECKED if alert.suppressed_by is SuppressedBy.STALE else None
        self._place(alert, decision, _suppression_cause(alert), received_at=None, event_id=None, route=route, said=said)


def _drill_end(event: AlertEvent, occurred: datetime) -> datetime | None:
    """A drill alert's time limit: the one its event carries, else (raised before drills had one) the default."""
    if not event.drill:
        return None
    return event.drill_ends_at or occurred + timedelta(minutes=DRILL_DEFAULT_MINUTES)


def _suppression_cause(alert: Alert | None) -> str | None:
    if alert is None or alert.status is not AlertStatus.SUPPRESSED or alert.suppressed_by is None:
        return None
    return alert.suppressed_by.value


def _alert_explanation(alert: Alert) -> dict[str, Any]:
    return {
        "dedup_key": alert.dedup_key,
        "summary": alert.summary,
        "labels": alert.labels,
        "suppressed_by": alert.suppressed_by.value if alert.suppressed_by else None,
        "firing_since": alert.episode_opened_at.isoformat(),
    }
