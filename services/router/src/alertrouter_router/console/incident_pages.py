"""Incidents: the filtered list (its rows refreshed live by polling a fragment), one incident with its alerts and
timeline in plain words, and the actions the signed-in person may take on it.

The list and the incident come from the ``/v1/incidents`` route functions themselves; actions go through
``incident_actions._act``, the body of every ``/v1/incidents/{id}/<action>`` route (``decide``, decision record,
audit entry), with the person's identity.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, ValidationError

from alertrouter_router.api.incident_actions import (
    ActionBody,
    EscalateBody,
    NoteBody,
    SnoozeBody,
    TargetBody,
    _act,
)
from alertrouter_router.api.incident_routes import get_incident, list_incidents
from alertrouter_router.console.confirm import Question, ask, confirmed
from alertrouter_router.console.errors import ConsoleError
from alertrouter_router.console.forms import read_form
from alertrouter_router.console.rendering import redirect, render
from alertrouter_router.console.session import Session, console_session
from alertrouter_router.console.timeline_words import in_words
from alertrouter_router.timefmt import local_times_in
from alertrouter_shared.cursors import InvalidCursor

router = APIRouter(prefix="/ui/incidents")
Signed = Annotated[Session, Depends(console_session)]
STATUSES = ("open", "triggered", "acknowledged", "resolved", "all")
KINDS = {"real": "real incidents", "drill": "drills"}  # the API lists one or the other (``drill``)
LIVE_SECONDS = 3
PAGE = 100  # incidents a page lists; more are behind its "older" link
_API = "/v1/incidents/{incident_id}"


def _filters(request: Request) -> dict[str, str]:
    query = request.query_params
    status = query.get("status", "open")
    kind = query.get("kind", "real")
    return {
        "team": query.get("team", ""),
        "service": query.get("service", ""),
        "status": status if status in STATUSES else "open",
        "kind": kind if kind in KINDS else "real",
    }


async def _rows(session: Session, filters: dict[str, str], cursor: str) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the list, newest first, and the cursor of the older ones when there are more."""
    status = None if filters["status"] == "all" else filters["status"]
    async with session.state.engine.connect() as conn:
        try:
            found = await list_incidents(
                conn,
                service=filters["service"] or None,
                team=filters["team"] or None,
                status=status,
                since=None,
                limit=PAGE,
                cursor=cursor or None,
                drill=filters["kind"] == "drill",
            )
        except InvalidCursor as exc:
            raise ConsoleError(422, str(exc)) from exc
    return list(found["items"]), found["next_cursor"]


def _older(filters: dict[str, str], cursor: str | None) -> str | None:
    """The link to the incidents past this page: beyond it they are not shown, so the page must say so."""
    return None if cursor is None else "/ui/incidents?" + urlencode(filters | {"cursor": cursor})


@router.get("")
async def incidents(request: Request, session: Signed) -> Response:
    filters = _filters(request)
    cursor = request.query_params.get("cursor", "")
    rows, older = await _rows(session, filters, cursor)
    config = session.state.configs.current.config
    return render(
        request,
        "incidents.html",
        session,
        filters=filters,
        statuses=STATUSES,
        kinds=KINDS,
        teams=config.teams,
        services=config.services,
        rows=rows,
        older=_older(filters, older),
        page_size=PAGE,
        live_url="/ui/incidents/rows?" + urlencode(filters | ({"cursor": cursor} if cursor else {})),
        live_seconds=LIVE_SECONDS,
    )


@router.get("/rows")
async def incident_rows(request: Request, session: Signed) -> Response:
    """The table body alone, for the page's script to swap in: new incidents appear without a reload."""
    filters = _filters(request)
    rows, older = await _rows(session, filters, request.query_params.get("cursor", ""))
    return render(request, "_incident_rows.html", session, rows=rows, older=_older(filters, older), page_size=PAGE)


async def _incident(session: Session, incident_id: str) -> dict[str, Any]:
    async with session.state.engine.connect() as conn:
        try:
            return await get_incident(incident_id, conn)
        except HTTPException as exc:
            raise ConsoleError(exc.status_code, str(exc.detail)) from exc


async def _allowed(session: Session, incident_id: str) -> dict[str, bool]:
    actions = ("acknowledge", "resolve", "escalate", "snooze", "notes", "reassign")
    return {a: await session.may("POST", f"{_API}/{a}", incident_id=incident_id) for a in actions}


async def _live(session: Session, incident_id: str, found: dict[str, Any]) -> dict[str, Any]:
    """The context of the page's live part: the facts and the buttons the person may press now."""
    config = session.state.configs.current.config
    return {
        "incident": found["incident"],
        "allowed": await _allowed(session, incident_id),
        "users": config.users,
        "schedules": config.schedules,
    }


@router.get("/{incident_id}")
async def incident(request: Request, incident_id: str, session: Signed) -> Response:
    found = await _incident(session, incident_id)
    return render(
        request,
        "incident.html",
        session,
        **await _live(session, incident_id, found),
        alerts=found["alerts"],
        lines=in_words(found["timeline"], session.time_zone),
        done=session.done(request),
        live_url=f"/ui/incidents/{incident_id}/timeline",
        live_seconds=LIVE_SECONDS,
    )


@router.get("/{incident_id}/facts")
async def incident_facts(request: Request, incident_id: str, session: Signed) -> Response:
    """Status and the buttons it allows, refreshed like the timeline: an incident acknowledged, resolved or
    triggered again elsewhere is not shown as it was, nor offers the buttons of then."""
    found = await _incident(session, incident_id)
    return render(request, "_incident_live.html", session, **await _live(session, incident_id, found))


@router.get("/{incident_id}/timeline")
async def incident_timeline(request: Request, incident_id: str, session: Signed) -> Response:
    found = await _incident(session, incident_id)
    return render(request, "_timeline.html", session, lines=in_words(found["timeline"], session.time_zone))


Action = Literal["acknowledge", "resolve", "escalate", "snooze", "note", "reassign"]


def _body(action: Action, form: dict[str, str]) -> ActionBody:
    """The API's own body model, so a form is checked exactly like a JSON body."""
    note = form.get("note", "")
    model: type[BaseModel]
    values: dict[str, Any] = {"note": note}
    if action == "escalate":
        model = EscalateBody
        values["level"] = form.get("level") or None
        values["from_level"] = form.get("from_level") or None
    elif action == "snooze":
        model, values["minutes"] = SnoozeBody, form.get("minutes", "")
    elif action == "note":
        model = NoteBody
    elif action == "reassign":
        model = TargetBody
        kind, _, target = form.get("target", "").partition(":")
        values[kind if kind in ("user", "schedule") else "user"] = target or None
    else:
        model = ActionBody
    try:
        body = model.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConsoleError(422, f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from exc
    assert isinstance(body, ActionBody)
    return body


async def _perform(request: Request, session: Session, incident_id: str, action: Action) -> Response:
    form = await read_form(request)
    if action in QUESTIONS and not confirmed(form):
        return redirect(f"/ui/incidents/{incident_id}/{action}")
    body = _body(action, form)
    try:
        result = await _act(session.state, session.who, incident_id, body, action)
    except HTTPException as exc:
        raise ConsoleError(exc.status_code, str(exc.detail)) from exc
    done = local_times_in(_done(action, result), session.time_zone)
    return redirect(f"/ui/incidents/{incident_id}?{session.done_query(done)}")


def _done(action: Action, result: dict[str, Any]) -> str:
    """The page's "Done: ..." line: the decision's reason ("acknowledged by bob"), not the note again."""
    if "decision_id" not in result:
        return f"nothing changed, the incident is {result['status']}"
    if action == "note":
        return "note added"
    if not result["changed"]:  # recorded, but it reached nobody: no level left, no policy, nobody on call
        return f"nothing changed ({str(result['reason'])[:200]})"
    return str(result["reason"])[:200]


# The form posts, one per action the incident page offers: the path segment (as the API names it) -> the action.
FORM_ACTIONS: dict[str, Action] = {
    "acknowledge": "acknowledge",
    "resolve": "resolve",
    "escalate": "escalate",
    "snooze": "snooze",
    "notes": "note",
    "reassign": "reassign",
}


# The actions that stop or start paging: their button leads to a page asking first (``confirm``). Acknowledge,
# the safe one, and those whose form must be filled in first (snooze, reassign, note) act at once.
QUESTIONS: dict[Action, Question] = {
    "resolve": Question(
        "Resolve this incident?", "Paging stops: its escalation ends and nobody is paged for it again.", "Resolve"
    ),
    "escalate": Question(
        "Escalate this incident now?",
        "The next level of its escalation policy is paged now, without waiting for anyone to acknowledge.",
        "Escalate now",
    ),
}


async def _confirm(request: Request, session: Session, incident_id: str, action: Action) -> Response:
    found = (await _incident(session, incident_id))["incident"]
    subject = f"{found['summary'] or found['dedup_key']} ({found['status']}, level {found['last_level'] + 1})"
    moot = "It is resolved already: there is nothing to do." if found["status"] == "resolved" else ""
    where = f"/ui/incidents/{incident_id}"
    # escalate from the level the page showed: confirmed after the timer moved on, or sent twice, it paged a level
    # nobody asked for
    hidden = {"from_level": str(found["last_level"] + 1)} if action == "escalate" else {}
    return ask(
        request,
        session,
        QUESTIONS[action],
        subject=subject,
        action=f"{where}/{action}",
        back=where,
        moot=moot,
        hidden=hidden,
    )


def _action_route(action: Action) -> Callable[[Request, str, Session], Awaitable[Response]]:
    async def perform(request: Request, incident_id: str, session: Signed) -> Response:
        return await _perform(request, session, incident_id, action)

    return perform


def _confirm_route(action: Action) -> Callable[[Request, str, Session], Awaitable[Response]]:
    async def confirm(request: Request, incident_id: str, session: Signed) -> Response:
        return await _confirm(request, session, incident_id, action)

    return confirm


for _segment, _action in FORM_ACTIONS.items():
    router.add_api_route(f"/{{incident_id}}/{_segment}", _action_route(_action), methods=["POST"], name=_segment)
for _action in QUESTIONS:  # their path segment is the action's name
    router.add_api_route(f"/{{incident_id}}/{_action}", _confirm_route(_action), methods=["GET"], name=f"ask-{_action}")
