"""What ``decide`` is asked to decide, besides alert events and due escalation steps: each input names the
incident or alert it concerns, and the rules in ``alert_rules.py`` and ``incident_rules.py`` act on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from alertrouter_router.decisions.escalation import Step
from alertrouter_shared.events import AlertEvent


@dataclass(frozen=True, slots=True)
class Recheck:
    """A suppressed alert whose reason may have gone (its maintenance window ended)."""

    dedup_key: str


@dataclass(frozen=True, slots=True)
class ManualAction:
    """A person's action on an incident: acknowledge, resolve, escalate now (to a chosen level), snooze, add a
    note, reassign (to a person or a schedule) or add a responder. ``by`` is the identity of the caller's token."""

    incident_id: str
    action: Literal["acknowledge", "resolve", "escalate", "snooze", "note", "reassign", "add_responder"]
    by: str
    note: str = ""
    level: int | None = None  # escalate: the 1-based level to page (default: the next one)
    # escalate: only while the incident is still at this 1-based level. A phone's "press 2" retried after the
    # router's answer was lost escalated a second time, paging a level nobody asked for.
    from_level: int | None = None
    minutes: int | None = None  # snooze: page again after this long unless resolved
    target: tuple[Literal["user", "schedule"], str] | None = None  # reassign / add_responder: whom to page


@dataclass(frozen=True, slots=True)
class Retrigger:
    """An acknowledged incident whose snooze or acknowledgement timeout ran out."""

    incident_id: str


@dataclass(frozen=True, slots=True)
class NotReached:
    """Every page of (round, level) of an incident failed for good: undelivered, unanswered, expired."""

    incident_id: str
    round: int
    level: int
    failures: tuple[str, ...]  # "clara: sms undelivered", …


@dataclass(frozen=True, slots=True)
class DrillEnd:
    """A drill incident whose time limit (``drill_ends_at``) has come: resolved unless someone already did."""

    incident_id: str

    @property
    def key(self) -> str:
        """The decision's step key: one drill end per incident, however often it is claimed."""
        return f"{self.incident_id}:drill-end"


Input = AlertEvent | Recheck | Step | ManualAction | Retrigger | NotReached | DrillEnd
