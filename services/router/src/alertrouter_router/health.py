"""Liveness, readiness and metrics endpoints shared by the router's API and consumer processes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from alertrouter_shared.kafka import kafka_reachable
from alertrouter_shared.metrics import metrics_payload
from alertrouter_shared.web.readiness import NOT_READY, Healthy, Ready, database_reachable, not_ready

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Healthy)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Ready,
    responses=NOT_READY,
)
async def readyz(request: Request) -> Any:
    state = request.app.state.router
    checks = {
        "database": await database_reachable(state.engine),
        "kafka": await kafka_reachable(state.settings),
        "config": state.configs.current is not None,
    }
    if not all(checks.values()):
        return not_ready(checks)
    return {"status": "ready", "checks": checks}


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def metrics() -> Response:
    body, content_type = metrics_payload()
    return Response(body, media_type=content_type)
