"""Heartbeats and their state: ok, silent (its alert raised, and raised again while silent), waiting for the first
beat, or disabled."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from alertrouter_router import heartbeats
from alertrouter_router.api.bodies import BoundedBodyRoute
from alertrouter_router.api.deps import ReadConn, State
from alertrouter_router.api.schemas.schedules import Heartbeats
from alertrouter_router.db.tables import heartbeat

router = APIRouter(prefix="/v1/heartbeats", tags=["heartbeats"], route_class=BoundedBodyRoute)


@router.get(
    "", response_model=Heartbeats, summary="Every heartbeat integration with its last beat, next due time and state"
)
async def list_heartbeats(state: State, conn: ReadConn) -> dict[str, Any]:
    rows = [dict(r._mapping) for r in await conn.execute(select(heartbeat))]
    return {"heartbeats": heartbeats.listing(state.configs.current, rows, state.clock.now())}
