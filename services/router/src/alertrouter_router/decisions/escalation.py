"""Escalation positions: which (round, level) follows which, and the whole timeline if nobody acknowledges (pure).

A step is (incident, round, level). Paging level L schedules level L+1 after level L's delay; past the last
level the policy starts again at level 0 for its configured number of repeats. Acknowledge or resolve cancels
every pending step. Steps live in the database and are claimed when due by any replica (``db/timers.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from alertrouter_router.decisions.paging import explain_targets, plan_level
from alertrouter_router.ownership.loader import LoadedConfig


@dataclass(frozen=True, slots=True)
class Step:
    incident_id: str
    round: int
    level: int
    due_at: datetime

    @property
    def key(self) -> str:
        return f"{self.incident_id}:{self.round}:{self.level}"


def next_position(round_: int, level: int, level_count: int, repeat: int) -> tuple[int, int] | None:
    """The step after (round, level), or None when the policy is exhausted."""
    if level + 1 < level_count:
        return round_, level + 1
    if round_ < repeat:
        return round_ + 1, 0
    return None


def timeline(config: LoadedConfig, policy_id: str, start: datetime) -> list[dict[str, Any]]:
    """Every level and round the policy would page if nobody acknowledged, each resolved at the instant it fires.

    The same ``plan_level`` as the live path, so the preview shows who would be paged at each step, through
    which schedule layer or override, on which contact method and when.
    """
    policy = config.policies_by_id[policy_id]
    steps: list[dict[str, Any]] = []
    position: tuple[int, int] | None = (0, 0)
    at = start
    while position is not None:
        round_, level = position
        plan = plan_level(config, policy_id, round_, level, at)
        targets = explain_targets(plan)
        reaches = any(t["notifications"] for t in targets)
        step = {"round": round_ + 1, "level": level + 1, "at": at.isoformat(), "targets": targets}
        steps.append(step | {"reaches_anyone": reaches})
        position = next_position(round_, level, len(policy.levels), policy.repeat)
        if reaches:  # the live path skips a level that reaches nobody at once, without its delay
            at = at + timedelta(minutes=plan.delay_minutes)
    return steps
