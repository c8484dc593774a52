"""A responder's actions beyond acknowledge and resolve: a note, reassigning, adding a responder.

- **note**: a line in the incident's timeline (a ``noted`` decision); nothing else changes, so it is allowed on
  resolved incidents too (a post-incident remark).
- **reassign** to a person or a schedule: they are paged now (the schedule's on-call person at this instant). The
  incident returns to triggered and the policy's escalation is rescheduled: if nobody acknowledges within the
  current level's delay, the level after it is paged, as if the new assignee were that level.
- **add a responder** (a person or a schedule): they are paged now; the incident's state and escalation are
  unchanged (an acknowledged incident stays acknowledged).

Pages of these actions carry ids of their own (``<incident>:<action>:<decision>:<user>:<contact method>``), so
they never collide with escalation pages, and go through the outbox like every other page.
"""

from __future__ import annotations

from datetime import timedelta

from alertrouter_router.decisions import Decision, Outcome
from alertrouter_router.decisions.batch import Batch, set_outcome
from alertrouter_router.decisions.escalation import Step
from alertrouter_router.decisions.incidents import Incident
from alertrouter_router.decisions.inputs import ManualAction
from alertrouter_router.decisions.paging import LevelPlan, build_pages, explain_targets
from alertrouter_router.ownership.escalation_targets import Selection, Target, notification_plan
from alertrouter_router.ownership.model import TargetType
from alertrouter_router.ownership.schedules import on_call_at


class ResponderRules(Batch):
    def note(self, incident: Incident, action: ManualAction, decision: Decision) -> None:
        set_outcome(decision, Outcome.NOTED, f"note by {action.by}: {action.note}", incident)

    def reassign(self, incident: Incident, action: ManualAction, decision: Decision, said: str) -> None:
        if not self._page_target(incident, action, decision, said):
            return
        # A new escalation cycle (rounds numbered after the last one, like escalate-now): the pending step of
        # the old cycle is cancelled and the rescheduled one has a position of its own.
        current = self.incidents[incident.id]
        base = current.next_cycle_round
        incident = self.put_incident(current.triggered_again(round_base=base, last_round=base))
        self.cancel_steps(incident.id)
        incident = self.with_policy(incident, decision) or incident
        policy = self.config.policies_by_id.get(incident.policy_id or "")
        after = None if policy is None else self.after(incident, base, incident.last_level)
        if policy is not None and after is not None:
            level = policy.levels[min(incident.last_level, len(policy.levels) - 1)]  # a reload may have removed it
            due = self.now + timedelta(minutes=level.delay_minutes)
            self.schedule(incident, Step(incident.id, after[0], after[1], due))
            decision.explanation["next_escalation"] = {"at": due.isoformat(), "round": 1, "level": after[1] + 1}

    def add_responder(self, incident: Incident, action: ManualAction, decision: Decision, said: str) -> None:
        self._page_target(incident, action, decision, said)

    def _page_target(self, incident: Incident, action: ManualAction, decision: Decision, said: str) -> bool:
        """Page the action's target now; False (and the decision says why) when it reaches nobody."""
        assert action.target is not None
        kind, target_id = action.target
        targets = self._targets(kind, target_id)
        reachable = [t for t in targets if t.notifications]
        decision.explanation["assignee" if action.action == "reassign" else "responder"] = {
            "type": kind,
            "id": target_id,
        }
        if not reachable:
            why = "nobody is on call" if kind == "schedule" and not targets else "nobody reachable"
            set_outcome(decision, Outcome.NOBODY_ON_CALL, f"{said}: {kind} {target_id}: {why}", incident)
            decision.explanation["targets"] = explain_targets(LevelPlan(incident.last_level, 0, 0, targets))
            return False
        plan = LevelPlan(incident.last_level, incident.last_round, 0, reachable)
        members = self.members.get(incident.id, [])
        pages = [
            page.model_copy(
                update={
                    "page_id": f"{incident.id}:{action.action}:{decision.id[:12]}:{page.user_id}:"
                    f"{page.contact_method.id}"
                }
            )
            for page in build_pages(self.config, incident, plan, decision.id, self.now, members)
        ]
        self.effects.pages.extend(pages)
        paged = ", ".join(t.user_id for t in reachable)
        set_outcome(decision, Outcome.PAGED, f"{said}: paged {paged}", incident)
        decision.explanation |= {"targets": explain_targets(plan), "pages": [p.page_id for p in pages]}
        return True

    def _targets(self, kind: str, target_id: str) -> list[Target]:
        """The person, or whoever is on call in the schedule at this instant (with the layer or override)."""
        config = self.config.config
        if kind == "user":
            user = config.users_by_id.get(target_id)
            selection = Selection(TargetType.USER, target_id)
        else:
            schedule = config.schedules_by_id.get(target_id)
            if schedule is None:
                return []
            on_call = on_call_at(schedule, config.users_by_id, self.now)
            user = config.users_by_id.get(on_call.user_id or "")
            selection = Selection(TargetType.SCHEDULE, target_id, on_call.layer_id, on_call.override_id, on_call.until)
        if user is None:
            return []
        return [Target(user.id, user.name, selection, notification_plan(user, self.now))]
