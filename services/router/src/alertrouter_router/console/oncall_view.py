"""Who is on call now, per team, service and level, with since/until, the next handoffs and a person's shifts.

Built from the same functions as ``GET /v1/oncall`` (``targets_by_level`` and ``explain_targets``) on the
configuration in force (API overrides included), so the page and the API cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from alertrouter_router.decisions.explain import how_selected
from alertrouter_router.decisions.paging import LevelPlan, explain_targets
from alertrouter_router.ownership.escalation_targets import targets_by_level
from alertrouter_router.ownership.loader import LoadedConfig
from alertrouter_router.ownership.model import Service, TargetType
from alertrouter_router.ownership.schedules import Shift, on_call_at, shifts_between

HANDOFFS_AHEAD = timedelta(days=7)
MY_SHIFTS_AHEAD = timedelta(days=14)


@dataclass(frozen=True)
class OnCallPerson:
    user_id: str
    name: str
    how: str
    since: datetime | None
    until: datetime | None


@dataclass(frozen=True)
class LevelView:
    level: int
    delay_minutes: int
    people: list[OnCallPerson]


@dataclass(frozen=True)
class ServiceView:
    service: Service
    levels: list[LevelView]


@dataclass(frozen=True)
class TeamView:
    id: str
    name: str
    services: list[ServiceView]
    schedules: list[str]


@dataclass(frozen=True)
class Handoff:
    schedule_id: str
    at: datetime
    user_id: str
    source: str
    until: datetime | None = None


def levels_now(config: LoadedConfig, policy_id: str, at: datetime) -> list[LevelView]:
    policy = config.policies_by_id[policy_id]
    schedules = config.config.schedules_by_id
    levels = []
    for lt in targets_by_level(config.config, policy, at):
        people = []
        for target in explain_targets(LevelPlan(lt.level_index, 0, lt.delay_minutes, list(lt.targets))):
            via = target["selected_by"]
            since = until = None
            if via["kind"] == "schedule" and via["id"] in schedules:
                on_call = on_call_at(schedules[via["id"]], config.config.users_by_id, at)
                since, until = on_call.since, on_call.until
            people.append(OnCallPerson(target["user"], target["name"], how_selected(via), since, until))
        levels.append(LevelView(lt.level_index + 1, lt.delay_minutes, people))
    return levels


def _paged_schedules(config: LoadedConfig, services: list[Service]) -> list[str]:
    found: list[str] = []
    for service in services:
        policy = config.policies_by_id.get(service.escalation_policy)
        for level in policy.levels if policy else []:
            for target in level.targets:
                if target.type is TargetType.SCHEDULE and target.id not in found:
                    found.append(target.id)
    return found


def teams_now(config: LoadedConfig, at: datetime) -> list[TeamView]:
    views = []
    for team in config.config.teams:
        services = [s for s in config.config.services if s.owner_team == team.id]
        shown = [
            ServiceView(s, levels_now(config, s.escalation_policy, at))
            for s in services
            if s.escalation_policy in config.policies_by_id
        ]
        views.append(TeamView(team.id, team.name, shown, _paged_schedules(config, services)))
    return views


def next_handoffs(config: LoadedConfig, schedule_ids: list[str], at: datetime, count: int = 3) -> list[Handoff]:
    """The next changes of who is on call in each schedule: a shift starting after ``at`` whose person was not on
    call just before it (a one-person rotation's next turn, or the same person on another layer, hands nothing
    over)."""
    handoffs = []
    for schedule_id in schedule_ids:
        schedule = config.config.schedules_by_id.get(schedule_id)
        if schedule is None:
            continue
        shifts = shifts_between(schedule, at, at + HANDOFFS_AHEAD)
        changes = [
            shift
            for before, shift in zip([None, *shifts], shifts, strict=False)
            if shift.start > at and not (before and before.user_id == shift.user_id and before.end == shift.start)
        ]
        handoffs += [Handoff(schedule_id, s.start, s.user_id, _source(s)) for s in changes[:count]]
    return sorted(handoffs, key=lambda h: h.at)


def _source(shift: Shift) -> str:
    return f"override {shift.override_id}" if shift.override_id else f"layer {shift.layer_id}"


def my_shifts(config: LoadedConfig, user_id: str, at: datetime) -> list[Handoff]:
    """The person's shifts in every schedule over the next two weeks (the one under way included). Shifts are
    cut to the two weeks: one under way starts at ``at`` and one that goes on ends at ``at`` + two weeks (the
    page says "now" and "at least" there)."""
    found: list[Handoff] = []
    for schedule in config.config.schedules:
        mine = [s for s in shifts_between(schedule, at, at + MY_SHIFTS_AHEAD) if s.user_id == user_id]
        for shift in mine:
            last = found[-1] if found else None
            if last and last.schedule_id == schedule.id and last.until == shift.start and last.source == _source(shift):
                found[-1] = Handoff(schedule.id, last.at, user_id, last.source, shift.end)  # one turn after another
            else:
                found.append(Handoff(schedule.id, shift.start, user_id, _source(shift), shift.end))
    return sorted(found, key=lambda h: h.at)


def who_owns(config: LoadedConfig, query: str) -> list[Service]:
    """Services whose id, name, alias, description, labels, owner team or policy mention ``query``."""
    needle = query.strip().lower()
    if not needle:
        return []
    teams = config.config.teams_by_id
    found = []
    for service in config.config.services:
        team = teams.get(service.owner_team)
        haystack = [
            service.id,
            service.name,
            service.description,
            service.owner_team,
            service.escalation_policy,
            team.name if team else "",
            *service.aliases,
            *service.labels.values(),
        ]
        if any(needle in text.lower() for text in haystack):
            found.append(service)
    return found
