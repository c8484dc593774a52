"""Schedules: each with who is on call now; one schedule's next 14 days (layers, restrictions, overrides) in the
viewer's time zone, its overrides, creating one (through the ``/v1/schedules/{id}/overrides`` route function, as
permitted) and a calendar feed URL (through ``/v1/calendar-feeds``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import ValidationError

from alertrouter_router.api.calendar_feeds import FeedIn, create_feed
from alertrouter_router.api.override_routes import OverrideIn, create_override, list_overrides
from alertrouter_router.console.errors import ConsoleError
from alertrouter_router.console.forms import local_instant, read_form
from alertrouter_router.console.rendering import redirect, render
from alertrouter_router.console.schedule_timeline import build
from alertrouter_router.console.session import Session, console_session, secure
from alertrouter_router.overrides import API_PREFIX
from alertrouter_router.ownership.schedules import on_call_at

router = APIRouter(prefix="/ui/schedules")
Signed = Annotated[Session, Depends(console_session)]


@router.get("")
async def schedules(request: Request, session: Signed) -> Response:
    config = session.state.configs.current.config
    now = session.state.clock.now()
    rows = [(s, on_call_at(s, config.users_by_id, now)) for s in config.schedules]
    return render(request, "schedules.html", session, rows=rows)


@router.get("/{schedule_id}")
async def schedule(request: Request, schedule_id: str, session: Signed) -> Response:
    config = session.state.configs.current.config
    found = config.schedules_by_id.get(schedule_id)
    if found is None:
        raise ConsoleError(404, f"schedule {schedule_id!r} not found")
    now = session.state.clock.now()
    stored = await list_overrides(schedule_id, session.state)
    return render(
        request,
        "schedule.html",
        session,
        schedule=found,
        now_on_call=on_call_at(found, config.users_by_id, now),
        timeline=build(found, now, session.time_zone),
        overrides=[o for o in found.overrides if o.end > now],  # the schedule keeps past ones for its history
        made_by={API_PREFIX + item["id"][:12]: item for item in stored["items"]},  # by their id in the schedule
        users=config.users,
        may_override=await session.may("POST", "/v1/schedules/{schedule_id}/overrides", schedule_id=schedule_id),
        done=session.done(request),
    )


@router.post("/{schedule_id}/overrides")
async def add_override(request: Request, schedule_id: str, session: Signed) -> Response:
    form = await read_form(request)
    start = local_instant(form.get("start", ""), session.time_zone, "start") or session.state.clock.now()
    end = local_instant(form.get("end", ""), session.time_zone, "end")
    if end is None:
        raise ConsoleError(422, "end: give when the override ends")
    try:
        body = OverrideIn(
            user=form.get("user", ""),
            start=start,
            end=end,
            replaces=form.get("replaces") or None,
            reason=form.get("reason", ""),
        )
        await create_override(schedule_id, body, session.state, session.who)
    except ValidationError as exc:
        raise ConsoleError(422, str(exc.errors()[0]["msg"])) from exc
    except HTTPException as exc:
        raise ConsoleError(exc.status_code, str(exc.detail)) from exc
    return redirect(f"/ui/schedules/{schedule_id}?{session.done_query('override created')}")


@router.post("/{schedule_id}/calendar-feed")
async def calendar_feed(request: Request, schedule_id: str, session: Signed) -> Response:
    try:
        made = await create_feed(FeedIn(schedule=schedule_id, user=None), session.state, session.who)
    except HTTPException as exc:
        raise ConsoleError(exc.status_code, str(exc.detail)) from exc
    # The URL is the credential: behind the proxy that ends TLS it is https, like the session cookie's Secure.
    base = request.base_url.replace(scheme="https") if secure(request) else request.base_url
    url = str(base).rstrip("/") + made["url"]
    return render(request, "feed.html", session, schedule_id=schedule_id, url=url, feed_id=made["id"])
