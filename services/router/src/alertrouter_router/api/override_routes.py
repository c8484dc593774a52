"""Schedule overrides through the API: a team admin puts someone on call for a while ("cover me tonight").

Checked like configured overrides, stored, laid over the configuration in every router process (``overrides.py``),
audited. A schedule belongs to the teams whose services' escalation policies page it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import Field, ValidationError

from alertrouter_router import audit, overrides
from alertrouter_router.api.bodies import BoundedBodyRoute
from alertrouter_router.api.deps import State
from alertrouter_router.api.permissions import Who
from alertrouter_router.api.schemas.common import RequestBody
from alertrouter_router.api.schemas.schedules import NewOverride, Overrides, OverrideView
from alertrouter_router.ownership.model import Override
from alertrouter_router.ownership.timespec import Instant

router = APIRouter(prefix="/v1/schedules/{schedule_id}/overrides", tags=["on-call"], route_class=BoundedBodyRoute)
COLUMNS = "id, schedule_id, user_id, starts_at, ends_at, replaces, reason, created_by, created_at, deleted_at"


class OverrideIn(RequestBody):
    user: str = Field(..., description="who is on call instead")
    start: Instant
    end: Instant
    replaces: str | None = Field(None, description="cover only this person; default: whoever is on call")
    reason: str = Field("", max_length=500)


def _shown(row: Any) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in dict(row).items()}


def _known(state: State, schedule_id: str) -> None:
    if schedule_id not in state.configs.current.schedules_by_id:
        raise HTTPException(404, f"schedule {schedule_id!r} not found")


@router.get("", response_model=Overrides, summary="Overrides of a schedule made through the API and not yet over")
async def list_overrides(schedule_id: str, state: State) -> dict[str, Any]:
    _known(state, schedule_id)
    async with state.pool.acquire() as conn:
        rows = await conn.fetch(
            f"SELECT {COLUMNS} FROM router_schedule_override WHERE schedule_id = $1 AND deleted_at IS NULL "  # noqa: S608
            "AND ends_at > $2 ORDER BY starts_at, id",
            schedule_id,
            state.clock.now(),
        )
    return {"items": [_shown(r) for r in rows]}


@router.post("", status_code=201, response_model=NewOverride, summary="Put someone on call in a schedule for a while")
async def create_override(schedule_id: str, body: OverrideIn, state: State, who: Who) -> dict[str, Any]:
    _known(state, schedule_id)
    now = state.clock.now()
    row_id = str(uuid.uuid4())
    try:
        candidate = Override(
            id=overrides.API_PREFIX + row_id[:12],
            user=body.user,
            start=body.start,
            end=body.end,
            replaces=body.replaces,
        )
    except ValidationError as exc:
        raise HTTPException(422, str(exc.errors()[0]["msg"]).removeprefix("Value error, ")) from exc
    if candidate.end <= now:
        raise HTTPException(422, "end: the override would already be over")
    async with state.pool.acquire() as conn, conn.transaction():
        # Checked against the stored overrides, one creation per schedule at a time: checked against this
        # process's copy, two made at once (or on two replicas within the poll) both passed and overlapped, and
        # of two that replace no one only the later was paged.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('override:' || $1::text))", schedule_id)
        state.configs.use(await overrides.in_effect(conn, now))
        if why := overrides.problem(state.configs.current.config, schedule_id, candidate, now):
            raise HTTPException(422, why)
        row = await conn.fetchrow(
            f"INSERT INTO router_schedule_override (id, schedule_id, user_id, starts_at, ends_at, replaces, reason, "  # noqa: S608
            f"created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {COLUMNS}",
            row_id,
            schedule_id,
            body.user,
            body.start,
            body.end,
            body.replaces,
            body.reason,
            who.actor,
            now,
        )
        shown = _shown(row)
        await audit.record(conn, audit.entry(who, now, "override.create", row_id, after=shown))
        stored = await overrides.in_effect(conn, now)
    state.configs.use(stored)  # committed: a commit refused left this process paging an override that was not
    return {**shown, "override_id": candidate.id}


@router.delete(
    "/{override_id}",
    response_model=OverrideView,
    summary="Remove an override made through the API",
    responses={409: {"description": "An api- id that names more than one override: use the full id"}},
)
async def delete_override(schedule_id: str, override_id: str, state: State, who: Who) -> dict[str, Any]:
    """``override_id``: its ``id``, or its id in the schedule (``api-<first 12 of id>``: the ``override_id`` its
    creation answered, and what shifts show). Only the row id was taken, so a DELETE with the id the POST had just
    answered was a 404 and the override stayed."""
    now = state.clock.now()
    short = override_id.removeprefix(overrides.API_PREFIX) if override_id.startswith(overrides.API_PREFIX) else None
    async with state.pool.acquire() as conn, conn.transaction():
        found = await conn.fetch(
            f"SELECT {COLUMNS} FROM router_schedule_override WHERE schedule_id = $2 AND deleted_at IS NULL "  # noqa: S608
            "AND (id = $1 OR left(id, 12) = $3) FOR UPDATE",
            override_id,
            schedule_id,
            short,
        )
        if not found:
            raise HTTPException(404, f"override {override_id!r} not found in schedule {schedule_id!r}")
        if len(found) > 1:
            raise HTTPException(409, f"{override_id!r} names {len(found)} overrides: remove one by its full id")
        before = found[0]
        after = await conn.fetchrow(
            f"UPDATE router_schedule_override SET deleted_at = $2 WHERE id = $1 RETURNING {COLUMNS}",  # noqa: S608
            before["id"],
            now,
        )
        # under its id, as its creation: named by its id in the schedule, the removal was a target the trail
        # had never heard of, and ?target_id=<its id> showed the override created and never removed
        item = audit.entry(who, now, "override.delete", before["id"], before=_shown(before), after=_shown(after))
        await audit.record(conn, item)
        stored = await overrides.in_effect(conn, now)
    state.configs.use(stored)  # committed: a commit refused left this process not paging an override that was
    return _shown(after)
