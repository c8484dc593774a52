"""Routing decisions as data: list with filters and a cursor, one by id, and a plain-text explanation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import PlainTextResponse

from alertrouter_router.api.bodies import BoundedBodyRoute
from alertrouter_router.api.deps import ReadConn
from alertrouter_router.api.schemas.decisions import DecisionPage, DecisionView
from alertrouter_router.db import decision_reads as decisions
from alertrouter_router.decisions import Outcome
from alertrouter_router.decisions.explain import explain_text
from alertrouter_router.ownership.timespec import Instant
from alertrouter_shared.cursors import encode_cursor, seq_after

router = APIRouter(prefix="/v1/decisions", tags=["decisions"], route_class=BoundedBodyRoute)


def _public(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    row["created_at"] = row["created_at"].isoformat()
    return row


@router.get("", response_model=DecisionPage, summary="Routing decisions, newest first")
async def list_decisions(
    conn: ReadConn,
    service: str | None = None,
    team: str | None = None,
    incident: str | None = None,
    dedup_key: str | None = None,
    outcome: Outcome | None = None,
    since: Instant | None = Query(None, description="ISO 8601 instant with offset"),
    until: Instant | None = Query(None, description="ISO 8601 instant with offset (exclusive)"),
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = Query(None, description="the next_cursor of the previous page"),
) -> dict[str, Any]:
    filters = decisions.DecisionFilter(service, team, incident, dedup_key, outcome, since, until)
    before = seq_after("decisions", cursor) if cursor else None
    rows = await decisions.list_page(conn, filters, limit, before)
    next_cursor = encode_cursor("decisions", rows[-1]["seq"]) if len(rows) == limit else None
    return {"items": [_public(r) for r in rows], "next_cursor": next_cursor}


async def _get(conn: ReadConn, decision_id: str) -> dict[str, Any]:
    row = await decisions.get_one(conn, decision_id)
    if row is None:
        raise HTTPException(404, f"decision {decision_id!r} not found")
    return row


@router.get("/{decision_id}", response_model=DecisionView, summary="One routing decision with its full explanation")
async def get_decision(decision_id: str, conn: ReadConn) -> dict[str, Any]:
    return _public(await _get(conn, decision_id))


@router.get("/{decision_id}/explain", response_class=PlainTextResponse, summary="The decision as a paragraph")
async def explain_decision(decision_id: str, conn: ReadConn) -> str:
    return explain_text(await _get(conn, decision_id))
