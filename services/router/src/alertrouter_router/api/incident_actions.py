"""People's actions on an incident, each through ``decide`` with a decision record and an audit entry.

The actor is the identity of the caller's token, never a body field: a person's token acts as that person. A
machine client with the ``act_as`` right (the notifier, relaying who pressed a button) names the person in
``by``, who must be allowed to act on the incident themselves (``on_behalf_refusal``); any other caller sending a
``by`` that is not themselves gets 403.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import Field

from alertrouter_router import audit, work
from alertrouter_router.api.bodies import BoundedBodyRoute
from alertrouter_router.api.deps import State
from alertrouter_router.api.permissions import RULES, Who, acting_as, on_behalf_refusal
from alertrouter_router.api.schemas.common import RequestBody
from alertrouter_router.api.schemas.incidents import ActionResult
from alertrouter_router.db import snapshot_reads
from alertrouter_router.decisions.decide import ManualAction
from alertrouter_router.decisions.incidents import Incident
from alertrouter_router.decisions.maintenance import Maintenance
from alertrouter_router.identity import Principal

router = APIRouter(prefix="/v1/incidents", tags=["incidents"], route_class=BoundedBodyRoute)

Action = Literal["acknowledge", "resolve", "escalate", "snooze", "note", "reassign", "add_responder"]


class ActionBody(RequestBody):
    by: str | None = Field(
        None,
        min_length=1,
        max_length=128,
        description="only for machine clients with the act_as right: the person on whose behalf they act",
    )
    note: str = Field("", max_length=2000)


class EscalateBody(ActionBody):
    level: int | None = Field(None, ge=1, le=50, description="the 1-based level to page; default: the next one")
    from_level: int | None = Field(
        None,
        ge=1,
        le=50,
        description="only while the incident is still at this 1-based level (else nothing changes): a request "
        "retried after its answer was lost escalates once",
    )


class SnoozeBody(ActionBody):
    minutes: int = Field(..., ge=1, le=1440, description="page again after this long unless resolved")


class NoteBody(ActionBody):
    note: str = Field(..., min_length=1, max_length=2000)


class TargetBody(ActionBody):
    user: str | None = Field(None, description="a user of the ownership configuration")
    schedule: str | None = Field(None, description="a schedule: whoever is on call in it now")


def _target(state: State, body: TargetBody) -> tuple[Literal["user", "schedule"], str]:
    config = state.configs.current.config
    if (body.user is None) == (body.schedule is None):
        raise HTTPException(422, "give exactly one of 'user' and 'schedule'")
    if body.user is not None:
        if body.user not in config.users_by_id:
            raise HTTPException(422, f"user: {body.user!r} is not in the ownership configuration")
        return "user", body.user
    assert body.schedule is not None
    if body.schedule not in config.schedules_by_id:
        raise HTTPException(422, f"schedule: {body.schedule!r} is not in the ownership configuration")
    return "schedule", body.schedule


_ROUTE = {"note": "notes", "add_responder": "responders"}


def _does(action: Action) -> str:
    """What the permission table says the action is ("acknowledge incidents")."""
    return RULES[("POST", f"/v1/incidents/{{incident_id}}/{_ROUTE.get(action, action)}")].does


def _state_of(incident: Incident) -> dict[str, Any]:
    return {
        "status": incident.status.value,
        "acknowledged_by": incident.acknowledged_by,
        "resolved_by": incident.resolved_by,
        "level": incident.last_level + 1,
        "round": incident.last_round - incident.round_base + 1,
    }


async def _act(state: State, who: Principal, incident_id: str, body: ActionBody, action: Action) -> dict[str, Any]:
    config = state.configs.current
    by = acting_as(who, body.by)
    target = _target(state, body) if isinstance(body, TargetBody) else None
    now = state.clock.now()
    async with state.pool.acquire() as conn, conn.transaction():
        snapshot = await snapshot_reads.for_incident(conn, incident_id)
        before = snapshot.incidents.get(incident_id)
        if before is None:
            raise HTTPException(404, f"incident {incident_id!r} not found")
        if by != who.actor and (why := await on_behalf_refusal(conn, config.config, by, before, _does(action))):
            raise HTTPException(403, why)
        level, from_level = (body.level, body.from_level) if isinstance(body, EscalateBody) else (None, None)
        minutes = body.minutes if isinstance(body, SnoozeBody) else None
        inputs = [
            ManualAction(
                incident_id, action, by, body.note, level=level, from_level=from_level, minutes=minutes, target=target
            )
        ]
        effects, recorded = await work.run_unit(conn, inputs, snapshot, Maintenance(), config, now, state.rules)
        after = effects.incidents.get(incident_id, before)
        decision = effects.decisions[-1] if effects.decisions else None
        recorded_after = _state_of(after) | ({"decision_id": decision.id} if decision else {})
        if target is not None:
            recorded_after["target"] = {"type": target[0], "id": target[1]}
        if body.note:
            recorded_after["note"] = body.note
        if by != who.actor:
            recorded_after["on_behalf_of"] = by
        await audit.record(
            conn,
            audit.entry(
                who,
                now,
                f"incident.{action}",
                incident_id,
                team_id=before.team_id,
                before=_state_of(before),
                after=recorded_after,
            ),
        )
    work.after_commit(effects, recorded, now, state.publisher)
    if decision is None:
        return {"incident": incident_id, "status": before.status.value, "changed": False}
    return {
        "incident": incident_id,
        "status": after.status.value,
        "changed": incident_id in effects.incidents,
        "by": by,
        "decision_id": decision.id,
        "outcome": decision.outcome.value,
        "reason": decision.reason,
    }


@router.post("/{incident_id}/acknowledge", response_model=ActionResult, summary="Acknowledge: stops escalation")
async def acknowledge(incident_id: str, body: ActionBody, state: State, who: Who) -> dict[str, Any]:
    return await _act(state, who, incident_id, body, "acknowledge")


@router.post("/{incident_id}/resolve", response_model=ActionResult, summary="Resolve the incident and its alerts")
async def resolve(incident_id: str, body: ActionBody, state: State, who: Who) -> dict[str, Any]:
    return await _act(state, who, incident_id, body, "resolve")


@router.post(
    "/{incident_id}/escalate", response_model=ActionResult, summary="Escalate now: the next level, or a chosen one"
)
async def escalate(incident_id: str, body: EscalateBody, state: State, who: Who) -> dict[str, Any]:
    return await _act(state, who, incident_id, body, "escalate")


@router.post(
    "/{incident_id}/snooze", response_model=ActionResult, summary="Acknowledge now, page again after some minutes"
)
async def snooze(incident_id: str, body: SnoozeBody, state: State, who: Who) -> dict[str, Any]:
    return await _act(state, who, incident_id, body, "snooze")


@router.post("/{incident_id}/notes", response_model=ActionResult, summary="Add a note to the incident's timeline")
async def add_note(incident_id: str, body: NoteBody, state: State, who: Who) -> dict[str, Any]:
    return await _act(state, who, incident_id, body, "note")


@router.post(
    "/{incident_id}/reassign",
    response_model=ActionResult,
    summary="Reassign to a person or a schedule: they are paged now",
)
async def reassign(incident_id: str, body: TargetBody, state: State, who: Who) -> dict[str, Any]:
    return await _act(state, who, incident_id, body, "reassign")


@router.post(
    "/{incident_id}/responders",
    response_model=ActionResult,
    summary="Add a responder (a person or a schedule): paged now",
)
async def add_responder(incident_id: str, body: TargetBody, state: State, who: Who) -> dict[str, Any]:
    return await _act(state, who, incident_id, body, "add_responder")
