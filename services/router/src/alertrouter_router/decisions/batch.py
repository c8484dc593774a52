"""The working state of one ``decide`` call, and the changes every rule makes the same way.

The snapshot it starts from, the effects it returns; storing a row, recording a decision, cancelling what is
pending, paging a level. Its inputs' types are in ``inputs.py``. The rules about alerts are in ``alert_rules.py``
and ``source_actions.py``, about incidents and people's actions in ``incident_rules.py``; ``decide.py``
dispatches to them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from alertrouter_router.decisions import Decision, Outcome, derived_id, event_explanation, route_explanation
from alertrouter_router.decisions.alerts import Alert
from alertrouter_router.decisions.beats import Beat
from alertrouter_router.decisions.escalation import Step, next_position
from alertrouter_router.decisions.incidents import Incident, IncidentStatus
from alertrouter_router.decisions.maintenance import Maintenance
from alertrouter_router.decisions.paging import Escalated, LevelPlan, build_pages, explain_targets, plan_level
from alertrouter_router.ownership.loader import LoadedConfig
from alertrouter_router.ownership.routing import RouteMatch, route_again
from alertrouter_shared.events import AlertEvent, Page, PageAlert


@dataclass(frozen=True)
class Rules:
    max_event_age_seconds: int = 900
    clock_skew_seconds: int = 300
    recheck_max_seconds: int = 60  # a suppressed alert is looked at again at least this often while suppressed
    nobody_reachable_retry_minutes: int = 5  # an incident no level reaches tries again this often


@dataclass
class Snapshot:
    """The state a batch touches: its alerts, their incidents, the open groups of its services, and the last beat
    of the heartbeats whose silent alerts it holds."""

    alerts: dict[str, Alert] = field(default_factory=dict)
    incidents: dict[str, Incident] = field(default_factory=dict)
    decided: set[str] = field(default_factory=set)  # event ids and step keys already decided
    members: dict[str, list[PageAlert]] = field(default_factory=dict)  # incident id → some member alerts
    last_beats: dict[str, datetime] = field(default_factory=dict)  # heartbeat integration → its last beat


@dataclass
class Effects:
    alerts: dict[str, Alert] = field(default_factory=dict)  # changed alerts, final state
    incidents: dict[str, Incident] = field(default_factory=dict)  # changed incidents, final state
    decisions: list[Decision] = field(default_factory=list)
    pages: list[Page] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    cancelled: set[str] = field(default_factory=set)  # incidents whose pending steps and unsent pages are dropped
    cancelled_steps: set[str] = field(default_factory=set)  # incidents whose pending steps only are dropped
    fired: list[Step] = field(default_factory=list)
    resolved_members: dict[str, datetime] = field(default_factory=dict)  # incident → resolve instant of its alerts
    opened: list[Incident] = field(default_factory=list)
    acknowledged: list[Incident] = field(default_factory=list)
    resolved: list[Incident] = field(default_factory=list)
    updates: list[tuple[Incident, str]] = field(default_factory=list)  # (incident, who acted): tell those paged
    escalations: list[Escalated] = field(default_factory=list)  # incidents paged further: tell those paged before
    beats: dict[str, Beat] = field(default_factory=dict)  # integration → its latest beat heard, final state


def clamp(at: datetime, received_at: datetime, skew_seconds: int) -> tuple[datetime, bool]:
    """A source clock ahead of ours by more than the allowance is not believed: the receipt time is used."""
    if at > received_at + timedelta(seconds=skew_seconds):
        return received_at, True
    return at, False


class Batch:
    def __init__(
        self, snapshot: Snapshot, config: LoadedConfig, maintenance: Maintenance, now: datetime, rules: Rules
    ) -> None:
        self.alerts = dict(snapshot.alerts)
        self.incidents = dict(snapshot.incidents)
        self.decided = set(snapshot.decided)
        self.members = {k: list(v) for k, v in snapshot.members.items()}
        self.last_beats = dict(snapshot.last_beats)
        self.config = config
        self.maintenance = maintenance
        self.now = now
        self.rules = rules
        self.effects = Effects()
        self.plans: dict[tuple[str, int, int], LevelPlan] = {}  # one on-call computation per level per batch

    # ------------------------------------------------------------------------------------------ state

    def put_alert(self, alert: Alert) -> Alert:
        alert = replace(alert, updated_at=self.now)
        self.alerts[alert.dedup_key] = alert
        self.effects.alerts[alert.dedup_key] = alert
        return alert

    def put_incident(self, incident: Incident) -> Incident:
        self.incidents[incident.id] = incident
        self.effects.incidents[incident.id] = incident
        return incident

    def record(self, decision: Decision) -> None:
        self.effects.decisions.append(decision)

    def cancel(self, incident_id: str) -> None:
        """Nobody needs paging for it any more: drop its pending steps and unsent pages, this batch's too."""
        self.effects.cancelled.add(incident_id)
        self.effects.pages = [p for p in self.effects.pages if p.incident_id != incident_id]
        self.cancel_steps(incident_id)

    def with_policy(self, incident: Incident, decision: Decision) -> Incident | None:
        """The incident under a policy that exists: its own, else (a reload removed or renamed it) its service's
        current one, else (the service went too: renamed with its policy) the service its integration routes to
        now (its binding, else its labels); the decision names what replaced what. None when none exists. Without
        the fallback the incident stayed triggered with no step, and the alert's later triggers were duplicates of
        it: nobody was paged again."""
        if incident.policy_id in self.config.policies_by_id:
            return incident
        service = self.config.services_by_id.get(incident.service_id or "")
        if service is None:
            return self._routed_again(incident, decision)
        if service.escalation_policy not in self.config.policies_by_id:
            return None
        decision.explanation["policy_replaced"] = {"was": incident.policy_id, "now": service.escalation_policy}
        decision.policy_id = service.escalation_policy
        return self.put_incident(replace(incident, policy_id=service.escalation_policy))

    def _routed_again(self, incident: Incident, decision: Decision) -> Incident | None:
        """An incident whose service and policy a reload removed, under the service its integration routes to now;
        never a drill's, which rehearses its own service's chain (its time limit ends it)."""
        route = route_again(self.config.config, incident.labels, incident.integration_id)
        if incident.drill or route.service_id is None or route.escalation_policy_id is None:
            why = "a drill is not routed to another service" if incident.drill else route.reason
            decision.explanation["not_routed_again"] = why
            return None
        decision.explanation["service_replaced"] = {"was": incident.service_id, "now": route.service_id}
        decision.explanation["policy_replaced"] = {"was": incident.policy_id, "now": route.escalation_policy_id}
        decision.explanation["route"] = route_explanation(route)
        decision.service_id, decision.team_id = route.service_id, route.team_id
        decision.policy_id = route.escalation_policy_id
        moved = replace(
            incident, service_id=route.service_id, team_id=route.team_id, policy_id=route.escalation_policy_id
        )
        return self.put_incident(moved)

    def schedule(self, incident: Incident, step: Step) -> Incident:
        """A step for later; the incident keeps the highest round scheduled, where its next cycle starts after."""
        self.effects.steps.append(step)
        if step.round <= incident.step_round:
            return incident
        return self.put_incident(replace(incident, step_round=step.round))

    def cancel_steps(self, incident_id: str) -> None:
        """Its escalation is rescheduled: drop pending steps (pages already planned still go out)."""
        self.effects.cancelled_steps.add(incident_id)
        self.effects.steps = [s for s in self.effects.steps if s.incident_id != incident_id]

    def acknowledge(self, incident: Incident, by: str) -> Incident:
        """Acknowledged, under the acknowledgement timeout of the policy that governs it: its own, else (a reload
        removed or renamed it) its service's current one, as its steps and snoozes go on with (``with_policy``)."""
        policies, service = self.config.policies_by_id, self.config.services_by_id.get(incident.service_id or "")
        policy = policies.get(incident.policy_id or "") or policies.get(service.escalation_policy if service else "")
        timeout = policy.ack_timeout_minutes if policy is not None else None
        incident = self.put_incident(
            replace(
                incident,
                status=IncidentStatus.ACKNOWLEDGED,
                acknowledged_at=self.now,
                acknowledged_by=by,
                retrigger_at=self.now + timedelta(minutes=timeout) if timeout else None,
            )
        )
        self.cancel(incident.id)
        self.effects.acknowledged.append(incident)
        self.effects.updates.append((incident, by))
        return incident

    def past_drill_end(self, incident: Incident) -> bool:
        """A drill incident at or past its time limit: it pages nobody any more (the drill's end resolves it)."""
        return incident.drill and incident.drill_ends_at is not None and self.now >= incident.drill_ends_at

    def close(self, incident: Incident, by: str, at: datetime) -> Incident:
        incident = self.put_incident(
            replace(incident, status=IncidentStatus.RESOLVED, resolved_at=at, resolved_by=by, retrigger_at=None)
        )
        self.cancel(incident.id)
        self.effects.resolved.append(incident)
        self.effects.updates.append((incident, by))
        return incident

    # ------------------------------------------------------------------------------------------ paging

    def plan(self, policy_id: str, round_: int, level: int) -> LevelPlan:
        key = (policy_id, round_, level)
        if key not in self.plans:
            self.plans[key] = plan_level(self.config, policy_id, round_, level, self.now)
        return self.plans[key]

    def after(self, incident: Incident, round_: int, level: int) -> tuple[int, int] | None:
        """The position after (round, level) in the incident's current escalation cycle, rounds kept absolute."""
        policy = self.config.policies_by_id[incident.policy_id or ""]
        found = next_position(round_ - incident.round_base, level, len(policy.levels), policy.repeat)
        return None if found is None else (found[0] + incident.round_base, found[1])

    def escalate(
        self, incident: Incident, round_: int, level: int, decision: Decision, announce: str | None = None
    ) -> None:
        """Page (round, level); levels that reach nobody are skipped at once and recorded in the explanation.

        ``announce`` (who escalated, "" for the timer) marks an escalation those already paged are told of;
        None for an incident's first page.
        """
        assert incident.policy_id is not None
        policy = self.config.policies_by_id[incident.policy_id]
        removed = ""  # the reason says so: "level 3 was due" and "paged level 1" read as a mistake without it
        if level >= len(policy.levels):  # a reload removed levels while a step for one was pending
            decision.explanation["level_removed"] = {"level": level + 1, "levels_now": len(policy.levels)}
            removed = f"level {level + 1} no longer exists (policy {policy.id} has {len(policy.levels)} now): "
            level = len(policy.levels) - 1
            # The last level was paged in this round already: the same pages again (same ids) would go nowhere. A
            # round past any step and the repeats starts a cycle, as the retry of a level that reached nobody does.
            round_ = max(round_, incident.step_round, incident.round_base + policy.repeat) + 1
        first_level = level
        skipped: list[dict[str, Any]] = []
        position: tuple[int, int] | None = (round_, level)
        while position is not None:
            round_, level = position
            plan = self.plan(incident.policy_id, round_ - incident.round_base, level)
            plan = LevelPlan(plan.level, round_, plan.delay_minutes, plan.targets)
            explained = explain_targets(plan)
            if any(t.notifications for t in plan.targets):
                base = round_ if round_ - incident.round_base > policy.repeat else incident.round_base  # a retry
                incident = self.put_incident(replace(incident, last_round=round_, last_level=level, round_base=base))
                members = self.members.get(incident.id, [])
                pages = build_pages(self.config, incident, plan, decision.id, self.now, members)
                self.effects.pages.extend(pages)
                after = self.after(incident, round_, level)
                next_due = self.now + timedelta(minutes=plan.delay_minutes)
                if after is not None:
                    incident = self.schedule(incident, Step(incident.id, after[0], after[1], next_due))
                users = tuple(t["user"] for t in explained if t["notifications"])
                paged = ", ".join(users)
                if announce is not None:
                    self._announce(incident, round_, level, users, announce, decision.id)
                shown_round = round_ - incident.round_base + 1
                reason = f"{removed}paged level {level + 1} (round {shown_round}) of policy {policy.id}: {paged}"
                set_outcome(decision, Outcome.PAGED, reason, incident)
                decision.level = level + 1
                decision.explanation |= {
                    "level": level + 1,
                    "round": shown_round,
                    "targets": explained,
                    "skipped_levels": skipped,
                    "pages": [p.page_id for p in pages],
                    "next_escalation": {
                        "at": next_due.isoformat(),
                        "round": after[0] - incident.round_base + 1,
                        "level": after[1] + 1,
                    }
                    if after
                    else None,
                }
                return
            shown = round_ - incident.round_base + 1
            skipped.append({"level": level + 1, "round": shown, "targets": explained, "reason": "nobody reachable"})
            position = self.after(incident, round_, level)
        # Nobody now; try again later (a round past any step and the repeats: a retry, whose first page starts a cycle)
        # until someone is paged, acknowledged or resolved: else a coverage gap swallows its later triggers (repeats).
        retry_at = self.now + timedelta(minutes=self.rules.nobody_reachable_retry_minutes)
        retry_round = max(round_, incident.step_round, incident.round_base + policy.repeat) + 1
        incident = self.schedule(incident, Step(incident.id, retry_round, first_level, retry_at))
        # From a later level with no repeat left, the levels before it were not tried: bob of level 1 may well be
        # on call (and paged already), so "no level reaches anyone" would say what was not looked at.
        tried = sorted({s["level"] for s in skipped})
        nobody = f"no level of policy {policy.id} reaches anyone right now"
        if len(tried) < len(policy.levels):
            levels = f"level {tried[0]}" if len(tried) == 1 else f"levels {', '.join(map(str, tried))}"
            nobody = f"{levels} of policy {policy.id}: nobody reachable right now, and no level follows in this cycle"
        reason = f"{removed}{nobody}; trying level {first_level + 1} again at {retry_at.isoformat()}"
        set_outcome(decision, Outcome.NOBODY_ON_CALL, reason, incident)
        decision.explanation |= {
            "skipped_levels": skipped,
            "targets": [],
            "next_escalation": {
                "at": retry_at.isoformat(),
                "round": retry_round + 1 - incident.round_base,
                "level": first_level + 1,
            },
        }

    def _announce(
        self, incident: Incident, round_: int, level: int, users: tuple[str, ...], by: str, decision_id: str
    ) -> None:
        """Record the escalation, for those paged before (``work.py`` builds their updates from the outbox)."""
        who = f"{by} escalated" if by else "escalated"
        note = f"{who} to level {level + 1}: {', '.join(users)} paged"
        self.effects.escalations.append(Escalated(incident.id, round_, level, users, by, note, decision_id))

    # ------------------------------------------------------------------------------------------ decisions

    def event_decision(self, event: AlertEvent, route: RouteMatch) -> Decision:
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

    def incident_decision(self, incident: Incident, kind: Any, **explanation: Any) -> Decision:
        return Decision(
            outcome=Outcome.ESCALATION_ENDED,
            reason="",
            kind=kind,
            incident_id=incident.id,
            dedup_key=incident.dedup_key,
            service_id=incident.service_id,
            team_id=incident.team_id,
            policy_id=incident.policy_id,
            config_version=self.config.version,
            explanation=dict(explanation),
        )

    def clamped(self, event: AlertEvent, decision: Decision) -> datetime:
        occurred, was_clamped = clamp(event.occurred_at, event.received_at, self.rules.clock_skew_seconds)
        if was_clamped:
            decision.explanation["clamped"] = {
                "occurred_at": event.occurred_at.isoformat(),
                "to": occurred.isoformat(),
                "why": f"later than receipt plus the {self.rules.clock_skew_seconds}s clock-skew allowance",
            }
        return occurred


def set_outcome(decision: Decision, outcome: Outcome, reason: str, incident: Incident | None) -> None:
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


def suppress(decision: Decision, by: str, reason: str) -> None:
    decision.outcome = Outcome.SUPPRESSED
    decision.reason = reason
    decision.explanation["suppressed_by"] = by
