"""The router's one decision function: inputs and the state they touch in, decisions and effects out.

``decide(inputs, snapshot, config, maintenance, now, rules)`` does no I/O and reads no clock. The consumer
batch, the timer loop (escalation steps, maintenance rechecks, snoozes, drills' time limits), the API's person
actions, delivery failures and the preview all call it; the thin layers around it read the snapshot and write the
effects set-based (``db/snapshot_reads.py``, ``db/effect_writes.py``). The rules: ``alert_rules.py`` (triggers
from the sources, rechecks of suppressed alerts), ``source_actions.py`` (the sources' resolves and acknowledges)
and ``incident_rules.py`` (escalation over time, people's actions).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from alertrouter_router.decisions.batch import Effects, Rules, Snapshot, clamp
from alertrouter_router.decisions.escalation import Step
from alertrouter_router.decisions.incident_rules import IncidentRules
from alertrouter_router.decisions.inputs import DrillEnd, Input, ManualAction, NotReached, Recheck, Retrigger
from alertrouter_router.decisions.maintenance import Maintenance
from alertrouter_router.decisions.source_actions import SourceActionRules
from alertrouter_router.ownership.loader import LoadedConfig
from alertrouter_shared.events import AlertAction, AlertEvent

__all__ = [
    "DrillEnd",
    "Effects",
    "Input",
    "ManualAction",
    "NotReached",
    "Recheck",
    "Retrigger",
    "Rules",
    "Snapshot",
    "clamp",
    "decide",
]


class _Decider(SourceActionRules, IncidentRules):
    def handle(self, item: Input) -> None:
        if isinstance(item, AlertEvent):
            if str(item.event_id) in self.decided:
                return
            self.decided.add(str(item.event_id))
            if item.action is AlertAction.TRIGGER:
                self.trigger(item)
            elif item.action is AlertAction.RESOLVE:
                self.resolve_event(item)
            else:
                self.acknowledge_event(item)
        elif isinstance(item, Step):
            if item.key not in self.decided:
                self.decided.add(item.key)
                self.due_step(item)
            self.effects.fired.append(item)
        elif isinstance(item, Recheck):
            self.recheck(item)
        elif isinstance(item, ManualAction):
            self.manual(item)
        elif isinstance(item, Retrigger):
            self.retrigger(item)
        elif isinstance(item, DrillEnd):
            self.drill_end(item)
        else:
            self.not_reached(item)


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
