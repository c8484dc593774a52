"""Who is on call, schedules and their shifts, services and teams, calendars, and the routing preview."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Response

from alertrouter_router.api.bodies import BoundedBodyRoute
from alertrouter_router.api.deps import State
from alertrouter_router.api.preview import PreviewRequest, preview_decision
from alertrouter_router.api.schemas.oncall import OnCallForService, OnCallForTeam, Preview, Services, Shifts, Teams
from alertrouter_router.decisions.paging import LevelPlan, explain_targets
from alertrouter_router.ownership.escalation_targets import targets_by_level
from alertrouter_router.ownership.ical import schedule_calendar, user_calendar
from alertrouter_router.ownership.loader import LoadedConfig
from alertrouter_router.ownership.model import Service
from alertrouter_router.ownership.schedules import on_call_at, shifts_between
from alertrouter_router.ownership.timespec import within_years

router = APIRouter(prefix="/v1", tags=["on-call"], route_class=BoundedBodyRoute)
ICAL: dict[int | str, dict[str, Any]] = {
    200: {"description": "An iCalendar document", "content": {"text/calendar": {"schema": {"type": "string"}}}}
}
MAX_RANGE = timedelta(days=92)


def _instant(value: datetime | None, state: State) -> datetime:
    at = value or state.clock.now()
    if at.tzinfo is None:
        raise HTTPException(422, "at: the instant needs a time zone offset (e.g. 2026-03-29T01:30:00Z)")
    try:  # the years a schedule may name: year 9999 overflowed the calculation (500)
        return within_years(at)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc


def _policy_view(config: LoadedConfig, policy_id: str, at: datetime) -> list[dict[str, Any]]:
    policy = config.policies_by_id[policy_id]
    return [
        {
            "level": lt.level_index + 1,
            "delay_minutes": lt.delay_minutes,
            "targets": explain_targets(LevelPlan(lt.level_index, 0, lt.delay_minutes, list(lt.targets))),
        }
        for lt in targets_by_level(config.config, policy, at)
    ]


@router.get(
    "/oncall", response_model=OnCallForService | OnCallForTeam, summary="Who is on call, per escalation level, and why"
)
async def oncall(
    state: State,
    service: str | None = None,
    team: str | None = None,
    at: datetime | None = Query(None, description="ISO-8601 instant with offset; default now"),
) -> dict[str, Any]:
    config = state.configs.current
    instant = _instant(at, state)
    if (service is None) == (team is None):
        raise HTTPException(422, "give exactly one of 'service' or 'team'")
    if service is not None:
        found = config.services_by_id.get(service)
        if found is None:
            raise HTTPException(404, f"service {service!r} is not in configuration {config.short_version}")
        return {
            "service": found.id,
            "team": found.owner_team,
            "policy": found.escalation_policy,
            "at": instant.isoformat(),
            "config_version": config.version,
            "levels": _policy_view(config, found.escalation_policy, instant),
        }
    assert team is not None
    if team not in config.teams_by_id:
        raise HTTPException(404, f"team {team!r} is not in configuration {config.short_version}")
    services = [s for s in config.config.services if s.owner_team == team]
    return {
        "team": team,
        "at": instant.isoformat(),
        "config_version": config.version,
        "services": [
            {
                "service": s.id,
                "policy": s.escalation_policy,
                "levels": _policy_view(config, s.escalation_policy, instant),
            }
            for s in services
        ],
    }


def _range(start: datetime | None, end: datetime | None, state: State) -> tuple[datetime, datetime]:
    begin = _instant(start, state)
    finish = _instant(end, state) if end else begin + timedelta(days=14)
    if finish <= begin:
        raise HTTPException(422, "to: must be after from")
    if finish - begin > MAX_RANGE:
        raise HTTPException(422, f"the range is limited to {MAX_RANGE.days} days")
    return begin, finish


@router.get("/schedules/{schedule_id}/shifts", response_model=Shifts, summary="Shifts of a schedule in [from, to)")
async def shifts(
    schedule_id: str,
    state: State,
    start: datetime | None = Query(None, alias="from"),
    end: datetime | None = Query(None, alias="to"),
) -> dict[str, Any]:
    config = state.configs.current
    schedule = config.schedules_by_id.get(schedule_id)
    if schedule is None:
        raise HTTPException(404, f"schedule {schedule_id!r} not found")
    begin, finish = _range(start, end, state)
    now = on_call_at(schedule, config.users_by_id, begin)
    return {
        "schedule": schedule.id,
        "time_zone": schedule.time_zone,
        "from": begin.isoformat(),
        "to": finish.isoformat(),
        "on_call_at_from": now.user_id,
        "shifts": [
            {
                "user": s.user_id,
                "start": s.start.isoformat(),
                "end": s.end.isoformat(),
                "layer": s.layer_id,
                "override": s.override_id,
            }
            for s in shifts_between(schedule, begin, finish)
        ],
    }


@router.get(
    "/schedules/{schedule_id}/calendar.ics", response_class=Response, responses=ICAL, summary="iCal feed of a schedule"
)
async def schedule_ical(schedule_id: str, state: State, days: int = Query(28, ge=1, le=92)) -> Response:
    config = state.configs.current
    schedule = config.schedules_by_id.get(schedule_id)
    if schedule is None:
        raise HTTPException(404, f"schedule {schedule_id!r} not found")
    now = state.clock.now()
    body = schedule_calendar(schedule, config.users_by_id, now, now + timedelta(days=days), generated_at=now)
    return Response(body, media_type="text/calendar")


@router.get(
    "/users/{user_id}/calendar.ics", response_class=Response, responses=ICAL, summary="iCal feed of a user's shifts"
)
async def user_ical(user_id: str, state: State, days: int = Query(28, ge=1, le=92)) -> Response:
    config = state.configs.current
    if user_id not in config.users_by_id:
        raise HTTPException(404, f"user {user_id!r} not found")
    now = state.clock.now()
    body = user_calendar(config.config, user_id, now, now + timedelta(days=days), generated_at=now)
    return Response(body, media_type="text/calendar")


@router.get("/services", response_model=Services, summary="Services with owner team and policy")
async def services(state: State) -> dict[str, Any]:
    config = state.configs.current
    return {"config_version": config.version, "services": [s.model_dump(mode="json") for s in config.config.services]}


@router.get("/services/{service_id}", response_model=Service, summary="One service")
async def service(service_id: str, state: State) -> dict[str, Any]:
    found = state.configs.current.services_by_id.get(service_id)
    if found is None:
        raise HTTPException(404, f"service {service_id!r} not found")
    return found.model_dump(mode="json")


@router.get("/teams", response_model=Teams, summary="Teams and their members")
async def teams(state: State) -> dict[str, Any]:
    config = state.configs.current
    return {"config_version": config.version, "teams": [t.model_dump(mode="json") for t in config.config.teams]}


@router.post("/route/preview", response_model=Preview, summary="The decision an alert would get, with no side effects")
async def route_preview(body: PreviewRequest, state: State) -> dict[str, Any]:
    return await preview_decision(state, body)
