"""Drills: run one for a service (paging, or silent), list a service's runs, read one run's report."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from alertrouter_router import drill_report, drills, timeline
from alertrouter_router.api.deps import ReadConn, State
from alertrouter_router.api.permissions import Who, acting_as
from alertrouter_router.api.schemas.drills import DrillReport, DrillRuns, DrillStarted
from alertrouter_router.db import decision_reads, snapshot_reads
from alertrouter_router.db.keyset import older_than
from alertrouter_router.db.tables import drill as drill_table
from alertrouter_router.db.tables import incident as incident_table
from alertrouter_router.db.tables import outbox
from alertrouter_shared.cursors import encode_cursor, instant_id_after
from alertrouter_shared.errors import TransientError
from alertrouter_shared.events import DeliveryResult, Page
from alertrouter_shared.kafka import produce_all
from alertrouter_shared.logging import get_logger
from alertrouter_shared.topics import ALERTS

router = APIRouter(tags=["drills"])
log = get_logger(__name__)


class DrillRequest(BaseModel):
    silent: bool = Field(False, description="check the chain without paging anyone")
    by: str | None = Field(
        None, min_length=1, max_length=128, description="who asks (machine clients with act_as only; default: you)"
    )
    note: str = Field("", max_length=500)


_INSERT = (
    "INSERT INTO router_drill (id, service_id, silent, requested_by, note, started_at, event_id, dedup_key, checks) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)"
)


@router.post(
    "/v1/services/{service_id}/drills",
    status_code=202,
    response_model=DrillStarted | DrillReport,
    responses={201: {"model": DrillReport, "description": "A silent drill's report"}},
    summary="Run a drill",
)
async def run_drill(
    service_id: str, state: State, response: Response, who: Who, body: DrillRequest | None = None
) -> Any:
    """A paging drill answers 202 once its alert is on the alerts topic (the report fills in as the path runs);
    a silent drill answers 201 with its report."""
    body = body or DrillRequest()
    config = state.configs.current
    service = config.services_by_id.get(service_id)
    if service is None:
        raise HTTPException(404, f"service {service_id!r} not found")
    now = state.clock.now()
    run = drills.new_run(service_id, acting_as(who, body.by), body.note, now, silent=body.silent)
    async with state.pool.acquire() as conn, conn.transaction():
        if run.silent:
            maintenance = await snapshot_reads.read_maintenance(conn, now)
            run = replace(run, checks=drills.silent_checks(config, service_id, maintenance, now))
        values = (run.id, run.service_id, run.silent, run.requested_by, run.note, run.started_at)
        await conn.execute(_INSERT, *values, run.event_id, run.dedup_key, run.checks)  # the pool encodes jsonb
        if not run.silent:
            event = drills.drill_alert(run, service.name)
            try:  # before the commit: a run is stored only if its alert is on the topic
                await produce_all(
                    state.producer, [(ALERTS, event.dedup_key.encode(), event.model_dump_json().encode())], 10
                )
            except TransientError as exc:
                raise HTTPException(
                    503, "Kafka did not take the drill's alert: no drill was started", headers={"Retry-After": "5"}
                ) from exc
    log.info("drill_started", drill=run.id, service=service_id, silent=run.silent, by=run.requested_by)
    if run.silent:
        response.status_code = 201
        return drill_report.silent(run)
    return {
        "id": run.id,
        "service": service_id,
        "silent": False,
        "dedup_key": run.dedup_key,
        "started_at": run.started_at.isoformat(),
        "report": f"/v1/drills/{run.id}",
    }


def _run(row: Any) -> drills.DrillRun:
    return drills.DrillRun(**dict(row._mapping))


@router.get(
    "/v1/services/{service_id}/drills", response_model=DrillRuns, summary="A service's drill runs, newest first"
)
async def list_drills(
    service_id: str,
    conn: ReadConn,
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = Query(None, description="the next_cursor of the previous page"),
) -> dict[str, Any]:
    conditions = [drill_table.c.service_id == service_id]
    if cursor:
        key = instant_id_after("drills", cursor)
        conditions.append(older_than(drill_table.c.started_at, drill_table.c.id, key))
    rows = await conn.execute(
        select(drill_table)
        .where(*conditions)
        .order_by(drill_table.c.started_at.desc(), drill_table.c.id.desc())
        .limit(limit)
    )
    runs = [_run(r) for r in rows]
    keys = [r.dedup_key for r in runs if r.dedup_key]
    incidents = {
        i.dedup_key: i
        for i in await conn.execute(
            select(incident_table.c.id, incident_table.c.dedup_key, incident_table.c.status).where(
                incident_table.c.dedup_key.in_(keys)
            )
        )
    }
    items = []
    for run in runs:
        found = incidents.get(run.dedup_key or "")
        items.append(
            {
                "id": run.id,
                "silent": run.silent,
                "started_at": run.started_at.isoformat(),
                "requested_by": run.requested_by,
                "incident": found.id if found else None,
                "status": found.status if found else ("silent" if run.silent else "not paged (yet)"),
                "ok": (run.checks or {}).get("ok") if run.silent else None,
                "report": f"/v1/drills/{run.id}",
            }
        )
    last = runs[-1] if len(runs) == limit else None
    next_cursor = encode_cursor("drills", last.started_at, last.id) if last else None
    return {"service": service_id, "items": items, "next_cursor": next_cursor}


@router.get("/v1/drills/{drill_id}", response_model=DrillReport, summary="One drill run's report")
async def get_drill(drill_id: str, conn: ReadConn) -> dict[str, Any]:
    row = (await conn.execute(select(drill_table).where(drill_table.c.id == drill_id))).first()
    if row is None:
        raise HTTPException(404, f"drill {drill_id!r} not found")
    run = _run(row)
    if run.silent:
        return drill_report.silent(run)
    return await _paging_report(conn, run)


async def _paging_report(conn: AsyncConnection, run: drills.DrillRun) -> dict[str, Any]:
    key = run.dedup_key or ""
    found = (await conn.execute(select(incident_table).where(incident_table.c.dedup_key == key))).first()
    incident = dict(found._mapping) if found else None
    filters = decision_reads.DecisionFilter(dedup_key=key)
    decisions = {d["id"]: d for d in await decision_reads.list_page(conn, filters, 500, None)}
    pages: list[tuple[Page, Any]] = []
    deliveries: list[DeliveryResult] = []
    if incident is not None:
        decisions |= {d["id"]: d for d in await decision_reads.for_incident(conn, incident["id"])}
        rows = await conn.execute(select(outbox).where(outbox.c.incident_id == incident["id"]))
        pages = [(Page.model_validate_json(p.payload), p.published_at) for p in rows]
        entries = await timeline.for_incident(conn, incident["id"])
        deliveries = [DeliveryResult.model_validate(e["data"]) for e in entries if e["kind"] == "delivery"]
    ordered = sorted(decisions.values(), key=lambda d: d["seq"])
    return drill_report.build(run, incident, ordered, pages, deliveries)
