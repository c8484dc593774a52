"""Drills: run one for a service (paging, or silent), list a service's runs, read one run's report."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from alertrouter_router import audit, drills, timeline
from alertrouter_router.api.bodies import BoundedBodyRoute
from alertrouter_router.api.deps import ReadConn, State
from alertrouter_router.api.permissions import RULES, Who, acting_as, service_on_behalf_refusal
from alertrouter_router.api.schemas.common import RequestBody
from alertrouter_router.api.schemas.drills import DrillReport, DrillRuns, DrillStarted
from alertrouter_router.db import decision_reads
from alertrouter_router.db.keyset import older_than
from alertrouter_router.db.tables import alert as alert_table
from alertrouter_router.db.tables import drill as drill_table
from alertrouter_router.db.tables import incident as incident_table
from alertrouter_router.db.tables import outbox, scheduled_drill
from alertrouter_router.drills import drill_report, drill_start, scheduled_drills
from alertrouter_shared.cursors import encode_cursor, instant_id_after
from alertrouter_shared.errors import TransientError
from alertrouter_shared.events import DeliveryResult, Page
from alertrouter_shared.logging import get_logger

router = APIRouter(tags=["drills"], route_class=BoundedBodyRoute)
log = get_logger(__name__)


class DrillRequest(RequestBody):
    silent: bool = Field(False, description="check the chain without paging anyone")
    by: str | None = Field(
        None,
        min_length=1,
        max_length=128,
        description="who asks: a person of the service's team (machine clients with act_as only; default: you)",
    )
    note: str = Field("", max_length=500)
    minutes: int = Field(
        drills.DEFAULT_MINUTES,
        ge=1,
        le=drills.MAX_MINUTES,
        description="a paging drill's time limit: its incident, if still open then, is resolved by the router "
        f"(default {drills.DEFAULT_MINUTES}, at most {drills.MAX_MINUTES} minutes)",
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
    by = acting_as(who, body.by)
    does = RULES[("POST", "/v1/services/{service_id}/drills")].does
    if by != who.actor and (why := service_on_behalf_refusal(config.config, by, service_id, does)):
        raise HTTPException(403, why)
    now = state.clock.now()
    run = drills.new_run(service_id, by, body.note, now, silent=body.silent, minutes=body.minutes)
    if run.silent:
        run = replace(run, checks=await drill_start.silent_findings(state, config, service_id, now))
    try:
        async with state.pool.acquire() as conn, conn.transaction():
            await drill_start.record(conn, state, run, service.name)
            shown = {"service": service_id, "silent": run.silent, "requested_by": run.requested_by, "note": run.note}
            if run.ends_at is not None:
                shown["ends_at"] = run.ends_at.isoformat()
            await audit.record(
                conn, audit.entry(who, now, "drill.start", run.id, team_id=service.owner_team, after=shown)
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
        "ends_at": run.ends_at.isoformat() if run.ends_at else None,
        "report": f"/v1/drills/{run.id}",
    }


def _run(row: Any) -> drills.DrillRun:
    return drills.DrillRun(**dict(row._mapping))


@router.get(
    "/v1/services/{service_id}/drills",
    response_model=DrillRuns,
    summary="A service's drill runs, newest first, and the next scheduled",
)
async def list_drills(
    service_id: str,
    conn: ReadConn,
    state: State,
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = Query(None, description="the next_cursor of the previous page"),
) -> dict[str, Any]:
    """Runs asked for and runs started by the configuration's schedules (``scheduled``), pages of ``limit`` runs;
    scheduled runs skipped because no router started them in time are listed beside the runs of the same stretch
    of time; ``next_scheduled`` is each schedule's next run."""
    conditions = [drill_table.c.service_id == service_id]
    key = instant_id_after("drills", cursor) if cursor else None
    if key is not None:
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
            select(alert_table.c.dedup_key, incident_table.c.id, incident_table.c.status)
            .join(incident_table, incident_table.c.id == alert_table.c.incident_id)
            .where(alert_table.c.dedup_key.in_(keys))
        )
    }
    items = [_listed(run, incidents.get(run.dedup_key or "")) for run in runs]
    last = runs[-1] if len(runs) == limit else None
    skipped_where = [scheduled_drill.c.service_id == service_id, scheduled_drill.c.status == "skipped"]
    if key is not None:
        skipped_where.append(scheduled_drill.c.scheduled_at < key[0])
    if last is not None:  # the skipped runs of this page's stretch of time; older ones come with the next page
        skipped_where.append(scheduled_drill.c.scheduled_at >= last.started_at)
    skipped = await conn.execute(
        select(scheduled_drill).where(*skipped_where).order_by(scheduled_drill.c.scheduled_at.desc()).limit(limit)
    )
    items += [_skipped(row) for row in skipped]
    if not items and key is None and state.configs.current.services_by_id.get(service_id) is None:
        # a removed service's history stays listed; a typo ('chekout') read as "no drills"
        raise HTTPException(404, f"service {service_id!r} not found: not configured, and no drill history")
    items.sort(key=lambda item: str(item["started_at"] or item["scheduled"]["at"]), reverse=True)
    return {
        "service": service_id,
        "items": items,
        "next_cursor": encode_cursor("drills", last.started_at, last.id) if last else None,
        "next_scheduled": scheduled_drills.upcoming(state.configs.current, service_id, state.clock.now()),
    }


def _listed(run: drills.DrillRun, incident: Any) -> dict[str, Any]:
    return {
        "id": run.id,
        "silent": run.silent,
        "started_at": run.started_at.isoformat(),
        "requested_by": run.requested_by,
        "scheduled": drill_report.scheduled(run),
        "incident": incident.id if incident else None,
        "status": incident.status if incident else ("silent" if run.silent else "not paged (yet)"),
        "ok": (run.checks or {}).get("ok") if run.silent else None,
        "report": f"/v1/drills/{run.id}",
    }


def _skipped(row: Any) -> dict[str, Any]:
    return {
        "id": None,
        "silent": None,
        "started_at": None,
        "requested_by": f"{scheduled_drills.SCHEDULE_REQUESTER}:{row.schedule_id}",
        "scheduled": {"schedule": row.schedule_id, "at": row.scheduled_at.isoformat()},
        "incident": None,
        "status": "skipped",
        "reason": row.reason,
        "ok": None,
        "report": None,
    }


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
    # Decisions first: the alert's row commits with them, so whenever they are seen its incident is too (read the
    # other way round, a report read while the router committed said "not paged" for a drill that was).
    filters = decision_reads.DecisionFilter(dedup_key=key)
    decisions = {d["id"]: d for d in await decision_reads.list_page(conn, filters, 500, None)}
    # the incident its alert is in: its own, or, for a drill run before drills stopped grouping, the one of a drill
    # it was grouped with. Looked up by its own key, that one read "not paged".
    joined = incident_table.join(alert_table, alert_table.c.incident_id == incident_table.c.id)
    found = (
        await conn.execute(select(incident_table).select_from(joined).where(alert_table.c.dedup_key == key))
    ).first()
    incident = dict(found._mapping) if found else None
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
