"""Services: the catalogue, and one service with its owner team, policy, runbook, who is on call, maintenance
windows (created and ended through the ``/v1/services/{id}/maintenance`` route functions, as permitted) and its
recent incidents."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import ValidationError

from alertrouter_router.api.incident_routes import list_incidents
from alertrouter_router.api.maintenance_routes import (
    WindowIn,
    create_window,
    current_window,
    end_window,
    list_windows,
)
from alertrouter_router.console.confirm import Question, ask, confirmed
from alertrouter_router.console.errors import ConsoleError
from alertrouter_router.console.forms import local_instant, read_form
from alertrouter_router.console.oncall_view import levels_now
from alertrouter_router.console.rendering import redirect, render
from alertrouter_router.console.session import Session, console_session
from alertrouter_router.timefmt import local_time

router = APIRouter(prefix="/ui/services")
Signed = Annotated[Session, Depends(console_session)]
_MAINTENANCE = "/v1/services/{service_id}/maintenance"
END = Question(
    "End this maintenance window now?",
    "Alerts of the service page again from now on, and those the window held back that still fire page now.",
    "End now",
)


@router.get("")
async def catalogue(request: Request, session: Signed) -> Response:
    config = session.state.configs.current.config
    return render(request, "services.html", session, services=config.services, teams=config.teams_by_id)


@router.get("/{service_id}")
async def service(request: Request, service_id: str, session: Signed) -> Response:
    config = session.state.configs.current
    found = config.services_by_id.get(service_id)
    if found is None:
        raise ConsoleError(404, f"service {service_id!r} not found")
    async with session.state.engine.connect() as conn:
        windows = await list_windows(service_id, session.state, conn)
        recent = await list_incidents(
            conn, service=service_id, team=None, status=None, since=None, limit=10, cursor=None, drill=False
        )
    return render(
        request,
        "service.html",
        session,
        service=found,
        team=config.teams_by_id.get(found.owner_team),
        policy=config.policies_by_id.get(found.escalation_policy),
        levels=levels_now(config, found.escalation_policy, session.state.clock.now())
        if found.escalation_policy in config.policies_by_id
        else [],
        windows=windows,
        incidents=recent["items"],
        may_create=await session.may("POST", _MAINTENANCE, service_id=service_id),
        may_end=await session.may("DELETE", f"{_MAINTENANCE}/{{window_id}}", service_id=service_id),
        done=session.done(request),
    )


@router.post("/{service_id}/maintenance")
async def create(request: Request, service_id: str, session: Signed) -> Response:
    form = await read_form(request)
    starts = local_instant(form.get("starts_at", ""), session.time_zone, "starts_at")
    try:
        hours = float(form.get("hours", ""))
    except ValueError as exc:
        raise ConsoleError(422, "hours: give how long the window lasts, in hours") from exc
    if not 0 < hours <= 24 * 31:
        raise ConsoleError(422, "hours: between a few minutes and 31 days")
    try:
        ends = (starts or session.state.clock.now()) + timedelta(hours=hours)
    except OverflowError as exc:  # a mistyped year (9999-12-31) is the person's to correct, not a failure
        raise ConsoleError(422, "starts_at: not a date the window can end after") from exc
    try:
        body = WindowIn(starts_at=starts, ends_at=ends, reason=form.get("reason", ""), created_by=None)
        await create_window(service_id, body, session.state, session.who)
    except ValidationError as exc:
        raise ConsoleError(422, str(exc.errors()[0]["msg"])) from exc
    except HTTPException as exc:
        raise ConsoleError(exc.status_code, str(exc.detail)) from exc
    return redirect(f"/ui/services/{service_id}?{session.done_query('maintenance window created')}")


@router.get("/{service_id}/maintenance/{window_id}/end")
async def ask_end(request: Request, service_id: str, window_id: str, session: Signed) -> Response:
    """Ending a window starts paging again: one tap only asks (``confirm``)."""
    service = session.state.configs.current.services_by_id.get(service_id)
    if service is None:
        raise ConsoleError(404, f"service {service_id!r} not found")
    async with session.state.engine.connect() as conn:
        found = await current_window(conn, service_id, window_id, session.state.clock.now())
    name = service.name
    subject = name
    if found is not None:
        zone = session.time_zone
        span = f"{local_time(found['starts_at'], zone)} to {local_time(found['ends_at'], zone)}"
        subject = f"{name}: {span}: {found['reason'] or 'no reason given'}"
    moot = "" if found else "This window is over or was ended already: alerts of the service page as usual."
    where = f"/ui/services/{service_id}"
    return ask(
        request, session, END, subject=subject, action=f"{where}/maintenance/{window_id}/end", back=where, moot=moot
    )


@router.post("/{service_id}/maintenance/{window_id}/end")
async def end(request: Request, service_id: str, window_id: str, session: Signed) -> Response:
    if not confirmed(await read_form(request)):
        return redirect(f"/ui/services/{service_id}/maintenance/{window_id}/end")
    try:
        await end_window(service_id, window_id, session.state, session.who)
    except HTTPException as exc:
        raise ConsoleError(exc.status_code, str(exc.detail)) from exc
    return redirect(f"/ui/services/{service_id}?{session.done_query('maintenance window ended')}")
