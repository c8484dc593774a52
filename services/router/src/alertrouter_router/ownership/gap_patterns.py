"""Coverage gaps as a reviewer reads them: one finding per policy and hole, a recurring hole named once.

A schedule without night cover has a gap every night: fourteen lines per service over a 14-day lint, the same
lines again for each service sharing the policy, hide the one fact that matters ("nobody from 18:00 to 09:00
every day"). Gaps are grouped by escalation policy and recognised as daily or weekly when every occurrence
starts and ends at the same wall time in the policy's zone (its first schedule's zone, else UTC).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from alertrouter_router.ownership.model import EscalationPolicy, OwnershipConfig, TargetType
from alertrouter_router.ownership.rotation import Interval
from alertrouter_router.ownership.timespec import WEEKDAYS

Recurrence = Literal["once", "daily", "weekly"]


@dataclass(frozen=True)
class GapFinding:
    """One hole of a policy's coverage and every time it occurs within the lint's horizon."""

    escalation_policy_id: str
    service_ids: tuple[str, ...]
    time_zone: str
    recurrence: Recurrence
    occurrences: tuple[Interval, ...]

    def describe(self) -> str:
        services = ", ".join(repr(service) for service in self.service_ids)
        noun = "service" if len(self.service_ids) == 1 else "services"
        subject = f"policy {self.escalation_policy_id!r} ({noun} {services}) reaches nobody"
        if self.recurrence == "once":
            spans = "; ".join(f"from {_utc(begin)} to {_utc(finish)}" for begin, finish in self.occurrences)
            return f"{subject} {spans}"
        first, last = self.occurrences[0][0], self.occurrences[-1][1]
        return f"{subject} {self.wall_window()} ({len(self.occurrences)} times from {_utc(first)} to {_utc(last)})"

    def wall_window(self) -> str:
        """The recurring window in wall time, e.g. ``every day 18:00-09:00 Europe/Berlin``."""
        zone = ZoneInfo(self.time_zone)
        begin, finish = _interior(self.occurrences)[0]
        local_begin, local_end = begin.astimezone(zone), finish.astimezone(zone)
        if self.recurrence == "daily":
            return f"every day {local_begin:%H:%M}-{local_end:%H:%M} {self.time_zone}"
        begin_day, end_day = WEEKDAYS[local_begin.weekday()], WEEKDAYS[local_end.weekday()]
        return f"every {begin_day} {local_begin:%H:%M} - {end_day} {local_end:%H:%M} {self.time_zone}"


def _utc(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%d %H:%M UTC")


def policy_zone(config: OwnershipConfig, policy: EscalationPolicy | None) -> str:
    """The zone gaps of ``policy`` are read in: that of its first schedule target, else UTC."""
    for level in policy.levels if policy else []:
        for target in level.targets:
            schedule = config.schedules_by_id.get(target.id) if target.type is TargetType.SCHEDULE else None
            if schedule is not None:
                return schedule.time_zone
    return "UTC"


def _interior(occurrences: tuple[Interval, ...]) -> tuple[Interval, ...]:
    """Occurrences not cut by the horizon; the first and last may be, and then say nothing of the pattern."""
    return occurrences[1:-1] if len(occurrences) > 2 else occurrences


def _signature(interval: Interval, zone: ZoneInfo, weekly: bool) -> tuple[object, ...]:
    begin, finish = interval[0].astimezone(zone), interval[1].astimezone(zone)
    days = (finish.date() - begin.date()).days
    if weekly:
        return begin.weekday(), begin.time(), days, finish.time()
    return begin.time(), days, finish.time()


def _recurs(occurrences: tuple[Interval, ...], zone: ZoneInfo, step_days: int) -> bool:
    """Every occurrence one step after the previous, all but the cut ends at the same wall times."""
    if len(occurrences) < 3:
        return False
    inner = _interior(occurrences)
    weekly = step_days == 7
    if len({_signature(interval, zone, weekly) for interval in inner}) != 1:
        return False
    starts = [begin.astimezone(zone).date() for begin, _ in occurrences[1:]]
    if any((later - earlier).days != step_days for earlier, later in itertools.pairwise(starts)):
        return False
    first_end, last_start = occurrences[0][1].astimezone(zone), occurrences[-1][0].astimezone(zone)
    pattern_begin, pattern_end = inner[0][0].astimezone(zone), inner[0][1].astimezone(zone)
    return first_end.time() == pattern_end.time() and last_start.time() == pattern_begin.time()


def classify(occurrences: tuple[Interval, ...], time_zone: str) -> Recurrence:
    """Daily or weekly when the gaps form that pattern in ``time_zone``, else ``once`` (each listed)."""
    zone = ZoneInfo(time_zone)
    if _recurs(occurrences, zone, 1):
        return "daily"
    if _recurs(occurrences, zone, 7):
        return "weekly"
    return "once"


def gap_findings(
    config: OwnershipConfig, gaps_by_policy: dict[str, list[Interval]], services_by_policy: dict[str, list[str]]
) -> list[GapFinding]:
    """One finding per policy with gaps, naming every service that uses the policy."""
    findings: list[GapFinding] = []
    for policy_id, gaps in gaps_by_policy.items():
        if not gaps:
            continue
        zone = policy_zone(config, config.policies_by_id.get(policy_id))
        occurrences = tuple(gaps)
        services = tuple(services_by_policy.get(policy_id, ()))
        findings.append(GapFinding(policy_id, services, zone, classify(occurrences, zone), occurrences))
    return findings
