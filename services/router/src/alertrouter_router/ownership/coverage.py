"""Coverage lint: when, over the coming days, would an alert for a service reach nobody?

A person counts as reachable only with at least one notification rule to a contact method they have: a
schedule slot filled by someone who cannot be notified is a gap as real as an empty slot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from alertrouter_router.ownership.gap_patterns import GapFinding, gap_findings
from alertrouter_router.ownership.model import EscalationPolicy, OwnershipConfig, TargetType
from alertrouter_router.ownership.people import User
from alertrouter_router.ownership.rotation import Interval, merge_intervals
from alertrouter_router.ownership.schedules import shifts_between


@dataclass(frozen=True)
class CoverageGap:
    service_id: str
    escalation_policy_id: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class UserProblem:
    user_id: str
    message: str


@dataclass(frozen=True)
class CoverageReport:
    """``gaps`` has every interval per service; ``findings`` groups them for people (one line per hole)."""

    start: datetime
    end: datetime
    gaps: list[CoverageGap] = field(default_factory=list)
    user_problems: list[UserProblem] = field(default_factory=list)
    findings: list[GapFinding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.gaps and not self.user_problems


def is_reachable(user: User) -> bool:
    """True when at least one notification rule points at one of the user's contact methods."""
    return any(rule.contact_method in user.contact_methods_by_id for rule in user.notification_rules)


def user_problems(config: OwnershipConfig) -> list[UserProblem]:
    problems: list[UserProblem] = []
    for user in config.users:
        if not user.contact_methods:
            problems.append(UserProblem(user.id, "no contact methods: this user can never be notified"))
        elif not user.notification_rules:
            problems.append(UserProblem(user.id, "no notification rules: no contact method is ever used"))
        elif not is_reachable(user):
            problems.append(UserProblem(user.id, "no usable contact method in the notification rules"))
    return problems


def _covered(config: OwnershipConfig, policy: EscalationPolicy, start: datetime, end: datetime) -> list[Interval]:
    """The union, over all levels, of the time someone reachable is targeted."""
    users = config.users_by_id
    covered: list[Interval] = []
    for level in policy.levels:
        for target in level.targets:
            if target.type is TargetType.USER:
                people = [target.id]
            elif target.type is TargetType.TEAM:
                team = config.teams_by_id.get(target.id)
                people = list(team.members) if team else []
            else:
                schedule = config.schedules_by_id.get(target.id)
                shifts = shifts_between(schedule, start, end) if schedule else []
                covered.extend(
                    (s.start, s.end) for s in shifts if s.user_id in users and is_reachable(users[s.user_id])
                )
                continue
            if any(person in users and is_reachable(users[person]) for person in people):
                return [(start, end)]
    return merge_intervals(covered)


def _complement(covered: list[Interval], start: datetime, end: datetime) -> list[Interval]:
    gaps: list[Interval] = []
    cursor = start
    for begin, finish in covered:
        if begin > cursor:
            gaps.append((cursor, begin))
        cursor = max(cursor, finish)
    if cursor < end:
        gaps.append((cursor, end))
    return gaps


def coverage_report(config: OwnershipConfig, start: datetime, days: int = 14) -> CoverageReport:
    """Every interval in ``[start, start + days)`` where a service's policy reaches nobody reachable."""
    start = start.astimezone(UTC)
    end = start + timedelta(days=days)
    gaps_by_policy: dict[str, list[Interval]] = {}
    services_by_policy: dict[str, list[str]] = {}
    gaps: list[CoverageGap] = []
    for service in config.services:
        policy_id = service.escalation_policy
        services_by_policy.setdefault(policy_id, []).append(service.id)
        if policy_id not in gaps_by_policy:
            policy = config.policies_by_id.get(policy_id)
            covered = _covered(config, policy, start, end) if policy is not None else []
            gaps_by_policy[policy_id] = _complement(covered, start, end)
        gaps.extend(CoverageGap(service.id, policy_id, begin, finish) for begin, finish in gaps_by_policy[policy_id])
    findings = gap_findings(config, gaps_by_policy, services_by_policy)
    return CoverageReport(start, end, gaps, user_problems(config), findings)
