"""The home page: who is on call now for every team and service, the next handoffs, my shifts, who owns X."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from alertrouter_router.console.oncall_view import (
    MY_SHIFTS_AHEAD,
    levels_now,
    my_shifts,
    next_handoffs,
    teams_now,
    who_owns,
)
from alertrouter_router.console.rendering import render
from alertrouter_router.console.session import Session, console_session

router = APIRouter()
Signed = Annotated[Session, Depends(console_session)]


@router.get("/ui/")
async def now(request: Request, session: Signed) -> Response:
    config = session.state.configs.current
    at = session.state.clock.now()
    query = request.query_params.get("q", "")
    teams = teams_now(config, at)
    owned = [(s, levels_now(config, s.escalation_policy, at)[:1]) for s in who_owns(config, query)]
    schedules = [schedule for team in teams for schedule in team.schedules]
    return render(
        request,
        "now.html",
        session,
        at=at,
        teams=teams,
        query=query,
        owned=owned,
        mine=my_shifts(config, session.user_id, at),
        shifts_end=at + MY_SHIFTS_AHEAD,
        handoffs=next_handoffs(config, list(dict.fromkeys(schedules)), at),
        team_names={t.id: t.name for t in config.config.teams},
    )
