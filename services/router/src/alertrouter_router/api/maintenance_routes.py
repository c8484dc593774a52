"""Maintenance windows created through the API, with an expiry; configured windows are listed beside them.

Ending a window early makes the alerts it suppressed due for a recheck at once: still-firing ones page. Both are
recorded in the audit trail, and ``created_by`` is the caller's identity.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import Field, model_validator
from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from alertrouter_router import audit
from alertrouter_router.api.bodies import BoundedBodyRoute
from alertrouter_router.api.deps import ReadConn, State
from alertrouter_router.api.permissions import Who, acting_as
from alertrouter_router.api.schemas.common import RequestBody
from alertrouter_router.api.schemas.schedules import WindowEnded, Windows, WindowView
from alertrouter_router.db.keyset import later_than
from alertrouter_router.db.tables import alert, maintenance_window
from alertrouter_router.decisions.alerts import AlertStatus, SuppressedBy
from alertrouter_router.ownership.maintenance import is_over
from alertrouter_router.ownership.timespec import Instant
from alertrouter_shared.cursors import encode_cursor, instant_id_after

router = APIRouter(prefix="/v1/services/{service_id}/maintenance", tags=["maintenance"], route_class=BoundedBodyRoute)
_CURSOR = "maintenance"


class WindowIn(RequestBody):
    starts_at: Instant | None = Field(None, description="default: now")
    ends_at: Instant = Field(..., description="the window expires by itself at this instant")
    reason: str = Field("", max_length=500)
    created_by: str | None = Field(
        None, min_length=1, max_length=128, description="only machine clients with act_as: on whose behalf"
    )

    @model_validator(mode="after")
    def _order(self) -> WindowIn:
        if self.starts_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


def _not_over(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """A created window neither past its end nor ended early (DELETE): one that ending now would change."""
    return maintenance_window.c.active, maintenance_window.c.ends_at > now


def _row(row: Any) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in dict(row._mapping).items()}


def _known(state: State, service_id: str) -> None:
    if service_id not in state.configs.current.services_by_id:
        raise HTTPException(404, f"service {service_id!r} not found")


@router.get("", response_model=Windows, summary="Maintenance windows of a service (configured and created)")
async def list_windows(
    service_id: str,
    state: State,
    conn: ReadConn,
    include_ended: Annotated[
        bool, Query(description="also the windows that are over: past their end, or ended early (DELETE)")
    ] = False,
    limit: Annotated[int, Query(ge=1, le=500, description="created windows per page")] = 100,
    cursor: Annotated[str | None, Query(description="the next_cursor of the previous page")] = None,
) -> dict[str, Any]:
    """Current and future windows by default: a created window stays ``active`` in its table past its end (only
    DELETE clears it), and listed it read as maintenance going on, and a script ending every window listed tried to
    end windows long over. Created windows come a page at a time, by start: with ``include_ended`` the list grows
    with every window ever made. The configured ones (a few, from the ownership files) are on the first page."""
    _known(state, service_id)
    service = state.configs.current.services_by_id[service_id]
    now = state.clock.now()
    query = select(maintenance_window).where(maintenance_window.c.service_id == service_id)
    if not include_ended:
        query = query.where(*_not_over(now))
    if cursor is not None:
        after = instant_id_after(_CURSOR, cursor)
        query = query.where(later_than(maintenance_window.c.starts_at, maintenance_window.c.id, after))
    order = (maintenance_window.c.starts_at, maintenance_window.c.id)
    rows = (await conn.execute(query.order_by(*order).limit(limit))).all()
    configured = [w for w in service.maintenance_windows if include_ended or not is_over(w, now)]
    last = rows[-1] if len(rows) == limit else None
    return {
        "configured": [w.model_dump(mode="json") for w in configured] if cursor is None else [],
        "created": [_row(r) for r in rows],
        "next_cursor": encode_cursor(_CURSOR, last.starts_at, last.id) if last is not None else None,
    }


async def current_window(
    conn: AsyncConnection, service_id: str, window_id: str, now: datetime
) -> dict[str, Any] | None:
    """A created window of the service that is not over (``_not_over``)."""
    mine = (maintenance_window.c.id == window_id, maintenance_window.c.service_id == service_id)
    row = (await conn.execute(select(maintenance_window).where(*mine, *_not_over(now)))).first()
    return _row(row) if row is not None else None


@router.post("", status_code=201, response_model=WindowView, summary="Create a maintenance window")
async def create_window(service_id: str, body: WindowIn, state: State, who: Who) -> dict[str, Any]:
    _known(state, service_id)
    created_by = acting_as(who, body.created_by)
    now = state.clock.now()
    if body.ends_at <= now:
        raise HTTPException(422, "ends_at: the window would already be over")
    window_id = str(uuid.uuid4())
    values = {
        "id": window_id,
        "service_id": service_id,
        "starts_at": body.starts_at or now,
        "ends_at": body.ends_at,
        "reason": body.reason,
        "created_by": created_by,
    }
    shown = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in values.items()}
    team = state.configs.current.services_by_id[service_id].owner_team
    async with state.engine.begin() as conn:
        await conn.execute(maintenance_window.insert().values(values))
        await audit.record_sa(conn, audit.entry(who, now, "maintenance.create", window_id, team_id=team, after=shown))
    return shown


@router.delete("/{window_id}", response_model=WindowEnded, summary="End a maintenance window now")
async def end_window(service_id: str, window_id: str, state: State, who: Who) -> dict[str, Any]:
    now = state.clock.now()
    service = state.configs.current.services_by_id.get(service_id)
    async with state.engine.begin() as conn:
        before = (
            await conn.execute(
                select(maintenance_window).where(
                    maintenance_window.c.id == window_id, maintenance_window.c.service_id == service_id
                )
            )
        ).first()
        result = await conn.execute(
            update(maintenance_window)
            .where(maintenance_window.c.id == window_id, maintenance_window.c.service_id == service_id)
            .values(active=False)
        )
        if result.rowcount:  # alerts it held back are looked at again on the timer loop's next pass
            await conn.execute(
                update(alert)
                .where(
                    alert.c.service_id == service_id,
                    alert.c.status == AlertStatus.SUPPRESSED.value,
                    alert.c.suppressed_by == SuppressedBy.MAINTENANCE.value,
                )
                .values(recheck_at=now)
            )
            await audit.record_sa(
                conn,
                audit.entry(
                    who,
                    now,
                    "maintenance.end",
                    window_id,
                    team_id=service.owner_team if service else None,
                    before=_row(before) if before else None,
                    after={"active": False},
                ),
            )
    if not result.rowcount:
        raise HTTPException(404, f"maintenance window {window_id!r} not found for service {service_id!r}")
    return {"id": window_id, "active": False}
