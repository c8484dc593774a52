"""The rules for incidents over time and for people's actions on them.

An escalation step that comes due pages its level if the incident is still triggered. A level whose every page
failed for good (undelivered, unanswered, expired) escalates to the next at once instead of waiting out its delay.
A person acknowledges, resolves (which resolves its alerts), escalates now (the next level, or a chosen one, which
starts a new cycle) or snoozes (acknowledged, paged again after the snooze); a policy's acknowledgement timeout
does the same as a snooze. A new cycle numbers its rounds after the last one, so page ids never repeat. A drill's
incident is resolved when the drill's time limit comes (``drill_end``) and pages nobody past it. Notes,
reassigning and adding a responder are in ``responder_rules.py``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from alertrouter_router.decisions import Decision, DecisionKind, Outcome, derived_id
from alertrouter_router.decisions.alerts import AlertStatus
from alertrouter_router.decisions.batch import set_outcome
from alertrouter_router.decisions.escalation import Step
from alertrouter_router.decisions.incidents import DRILL_TIME_LIMIT, Incident, IncidentStatus
from alertrouter_router.decisions.inputs import DrillEnd, ManualAction, NotReached, Retrigger
from alertrouter_router.decisions.responder_rules import ResponderRules

_PAST = {
    "acknowledge": "acknowledged",
    "resolve": "resolved",
    "escalate": "escalated",
    "snooze": "snoozed",
    "note": "noted",
    "reassign": "reassigned",
    "add_responder": "responder added",
}
_TARGETED = {"reassign", "add_responder"}  # their reason continues after the note ("…: paged dave")
_PAGES = {"escalate", *_TARGETED}  # a person's actions that page someone


class IncidentRules(ResponderRules):
    def due_step(self, step: Step) -> None:
        incident = self.incidents.get(step.incident_id)
        if incident is None or incident.status is not IncidentStatus.TRIGGERED or self.past_drill_end(incident):
            return  # a drill past its time limit escalates no further: its end resolves it
        decision = self.incident_decision(
            incident,
            DecisionKind.ESCALATION,
            step={
                "round": step.round - incident.round_base + 1,
                "level": step.level + 1,
                "due_at": step.due_at.isoformat(),
            },
        )
        decision.id, decision.step_key = derived_id("decision", step.key), step.key
        current = self.with_policy(incident, decision)
        if current is None and incident.drill:  # its time limit ends it
            decision.reason = _missing(incident, decision, self.config.short_version)
        elif current is None:
            self._retry_without_policy(incident, step, decision)
        else:
            # a round past the policy's repeats is a retry after nobody was reachable (``Batch.escalate``)
            retry = step.round - current.round_base > self.config.policies_by_id[current.policy_id or ""].repeat
            self.escalate(current, step.round, step.level, decision, announce="")
            why = "nobody was reachable, trying again" if retry else "not acknowledged in time"
            decision.reason = f"{why}: {_replaced(decision)}{decision.reason}"
        self.record(decision)

    def _retry_without_policy(self, incident: Incident, step: Step, decision: Decision) -> None:
        """No policy for the incident now (a reload removed its policy and service, and its labels route nowhere):
        the step is tried again later, as a level that reached nobody is. Ending the escalation left the incident
        triggered with no step, its alert's later triggers duplicates, even once a rollback restored the policy."""
        retry_at = self.now + timedelta(minutes=self.rules.nobody_reachable_retry_minutes)
        retry_round = max(step.round, incident.step_round) + 1
        self.schedule(incident, Step(incident.id, retry_round, step.level, retry_at))
        missing = _missing(incident, decision, self.config.short_version)
        set_outcome(decision, Outcome.NOBODY_ON_CALL, f"{missing}; trying again at {retry_at.isoformat()}", incident)
        decision.explanation["next_escalation"] = {
            "at": retry_at.isoformat(),
            "round": retry_round - incident.round_base + 1,
            "level": step.level + 1,
        }

    def not_reached(self, item: NotReached) -> None:
        """Every page of the level failed for good: the next level now, not after the level's delay."""
        incident = self.incidents.get(item.incident_id)
        current = None if incident is None else (incident.last_round, incident.last_level)
        if incident is None or incident.status is not IncidentStatus.TRIGGERED or current != (item.round, item.level):
            return  # acknowledged, resolved, or already past that level: nothing to do
        if self.past_drill_end(incident):
            return
        key = f"{item.incident_id}:{item.round}:{item.level}:not-reached"
        if key in self.decided:
            return
        why = f"level {item.level + 1}: " + "; ".join(item.failures)
        decision = self.incident_decision(incident, DecisionKind.ESCALATION, not_reached=list(item.failures))
        governed = self.with_policy(incident, decision)
        self.decided.add(key)
        decision.id, decision.step_key = derived_id("decision", key), key
        if governed is None:  # it said nothing: the failed level's news was lost without a word
            self._not_reached_without_policy(incident, why, decision)
            return
        incident = governed
        after = self.after(incident, item.round, item.level)
        if after is None:
            decision.reason = f"{why}; no level follows in policy {incident.policy_id}"
        else:
            self.cancel_steps(incident.id)
            self.escalate(incident, after[0], after[1], decision, announce="")
            decision.reason = f"{why}: {_replaced(decision)}{decision.reason}"
        self.record(decision)

    def _not_reached_without_policy(self, incident: Incident, why: str, decision: Decision) -> None:
        """No policy names a next level now: the incident's pending step, if one is left, tries again when due, as
        any step without a policy does (a drill's time limit ends it instead)."""
        missing = _missing(incident, decision, self.config.short_version)
        then = "its time limit ends the drill" if incident.drill else "its next step, if any, tries again when due"
        set_outcome(decision, Outcome.NOBODY_ON_CALL, f"{why}; {missing}: nobody else paged now; {then}", incident)
        self.record(decision)

    def retrigger(self, item: Retrigger) -> None:
        incident = self.incidents.get(item.incident_id)
        if incident is None or incident.status is not IncidentStatus.ACKNOWLEDGED or incident.retrigger_at is None:
            return
        if self.past_drill_end(incident):  # no paging again: its end resolves it (and the claim stops finding it)
            self.put_incident(replace(incident, retrigger_at=None))
            return
        since = incident.acknowledged_at.isoformat() if incident.acknowledged_at else "?"
        why = f"acknowledged by {incident.acknowledged_by} at {since} and not resolved; paging again"
        decision = self.incident_decision(incident, DecisionKind.ESCALATION, retrigger=True)
        current = self.with_policy(incident, decision)
        if current is None:  # its policy and its service's are gone: acknowledged still, tried again later
            retry_at = self.now + timedelta(minutes=self.rules.nobody_reachable_retry_minutes)
            incident = self.put_incident(replace(incident, retrigger_at=retry_at))
            missing = _missing(incident, decision, self.config.short_version)
            reason = f"{why}, but {missing}: nobody paged; trying again at {retry_at.isoformat()}"
            set_outcome(decision, Outcome.NOBODY_ON_CALL, reason, incident)
            self.record(decision)
            return
        self._new_cycle(current, 0, decision, announce=None)  # paging again is the news, not an escalation
        decision.reason = f"{why}: {_replaced(decision)}{decision.reason}"
        self.record(decision)

    def drill_end(self, item: DrillEnd) -> None:
        """A drill's time limit came with its incident still open (nobody resolved it): resolve it and its alert,
        stop its escalation, tell those paged. Never a real incident: only one marked drill, with an end."""
        incident = self.incidents.get(item.incident_id)
        if incident is None or not incident.live or not self.past_drill_end(incident):
            return
        limit = incident.drill_ends_at.isoformat() if incident.drill_ends_at else "?"
        if incident.status is IncidentStatus.ACKNOWLEDGED:
            was = f"acknowledged by {incident.acknowledged_by} but not resolved"
        else:
            was = "nobody acknowledged it"
        decision = self.incident_decision(
            incident,
            DecisionKind.ESCALATION,
            drill_ended={
                "reason": "time limit",
                "ends_at": limit,
                "status": incident.status.value,
                "acknowledged_by": incident.acknowledged_by,
            },
        )
        decision.id, decision.step_key = derived_id("decision", item.key), item.key
        closed = self.close(replace(incident, firing_count=0), DRILL_TIME_LIMIT, max(self.now, incident.opened_at))
        for alert in list(self.alerts.values()):
            if alert.incident_id == incident.id and alert.status is AlertStatus.FIRING:
                self.put_alert(replace(alert, status=AlertStatus.RESOLVED, resolved_at=self.now))
        self.effects.resolved_members[incident.id] = self.now
        reason = f"drill ended: time limit ({limit}) reached; {was}: the drill's incident is resolved, nobody is paged"
        set_outcome(decision, Outcome.RESOLVED, reason, closed)
        self.record(decision)

    def _new_cycle(self, incident: Incident, level: int, decision: Decision, announce: str | None) -> None:
        """Back to triggered, paging from ``level`` in a new escalation cycle (its rounds after the last one)."""
        base = incident.next_cycle_round
        incident = self.put_incident(incident.triggered_again(round_base=base))
        self.cancel_steps(incident.id)
        self.escalate(incident, base, level, decision, announce)

    # ------------------------------------------------------------------------------------------ people

    def manual(self, action: ManualAction) -> None:
        incident = self.incidents.get(action.incident_id)
        if incident is None or not (incident.live or action.action == "note"):
            return
        if action.action in _PAGES and self.past_drill_end(incident):
            return  # as a due step then: nothing (the next timer pass resolves it); they paged, before
        decision = self.incident_decision(
            incident, DecisionKind.MANUAL, by=action.by, note=action.note, action=action.action
        )
        said = f"{_PAST[action.action]} by {action.by}"
        note = ""
        if action.note:
            note = f" ({action.note})" if action.action in _TARGETED else f": {action.note}"
        if action.action == "note":
            self.note(incident, action, decision)
        elif action.action == "reassign":
            self.reassign(incident, action, decision, said + note)
        elif action.action == "add_responder":
            self.add_responder(incident, action, decision, said + note)
        elif action.action == "escalate" and action.from_level not in (None, incident.last_level + 1):
            return  # already past the level it was asked from (a retry, or the timer was first): nothing to do
        elif action.action == "acknowledge":
            if incident.status is IncidentStatus.ACKNOWLEDGED:
                return
            incident = self.acknowledge(incident, action.by)
            set_outcome(decision, Outcome.ACKNOWLEDGED, said + note, incident)
        elif action.action == "resolve":
            incident = self.close(replace(incident, firing_count=0), action.by, max(self.now, incident.opened_at))
            for alert in list(self.alerts.values()):
                if alert.incident_id == incident.id and alert.status is AlertStatus.FIRING:
                    self.put_alert(replace(alert, status=AlertStatus.RESOLVED, resolved_at=self.now))
            self.effects.resolved_members[incident.id] = self.now
            set_outcome(decision, Outcome.RESOLVED, said + note, incident)
        elif action.action == "snooze":
            self._snooze(incident, action, decision, said + note)
        else:
            self._escalate_now(incident, action, decision, said + note)
        self.record(decision)

    def _snooze(self, incident: Incident, action: ManualAction, decision: Decision, said: str) -> None:
        if incident.status is IncidentStatus.TRIGGERED:
            incident = self.acknowledge(incident, action.by)
        until = self.now + timedelta(minutes=action.minutes or 0)
        incident = self.put_incident(replace(incident, retrigger_at=until))
        set_outcome(
            decision, Outcome.ACKNOWLEDGED, f"{said}; paged again at {until.isoformat()} unless resolved", incident
        )
        decision.explanation["snoozed_until"] = until.isoformat()

    def _escalate_now(self, incident: Incident, action: ManualAction, decision: Decision, said: str) -> None:
        current = self.with_policy(incident, decision)
        if current is None:
            decision.reason = f"{said}; {_missing(incident, decision, self.config.short_version)}"
            return
        incident = current
        policy = self.config.policies_by_id[incident.policy_id or ""]
        if action.level is not None:
            self._new_cycle(incident, min(action.level, len(policy.levels)) - 1, decision, action.by)
        else:
            after = self.after(incident, incident.last_round, incident.last_level)
            if after is None:
                decision.reason = f"{said}; no level follows level {incident.last_level + 1} in policy {policy.id}"
                return
            if incident.status is IncidentStatus.ACKNOWLEDGED:
                incident = self.put_incident(incident.triggered_again())
            self.cancel_steps(incident.id)
            self.escalate(incident, after[0], after[1], decision, action.by)
        decision.reason = f"{said}: {_replaced(decision)}{decision.reason}"


def _missing(incident: Incident, decision: Decision, version: str) -> str:
    """Why an incident pages nobody: a reload removed its policy and its service, and its labels route nowhere."""
    why = decision.explanation.get("not_routed_again", "")
    return (
        f"policy {incident.policy_id} no longer exists in configuration {version}, nor service "
        f"{incident.service_id}, and it is not routed again: {why}"
    )


def _replaced(decision: Decision) -> str:
    """The reason's preamble when a reload removed the incident's policy and its service's current one took over."""
    replaced = decision.explanation.get("policy_replaced")
    moved = decision.explanation.get("service_replaced")
    if moved and replaced:
        return (
            f"service {moved['was']} and policy {replaced['was']} no longer exist, routed again to service "
            f"{moved['now']} ({decision.explanation['route']['reason']}), continuing with {replaced['now']}; "
        )
    return f"policy {replaced['was']} no longer exists, continuing with {replaced['now']}; " if replaced else ""
