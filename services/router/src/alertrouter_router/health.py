"""Liveness, readiness and metrics endpoints shared by the router's API and consumer processes."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from alertrouter_shared.kafka import kafka_reachable
from alertrouter_shared.metrics import metrics_payload
from alertrouter_shared.web.readiness import database_reachable

router = APIRouter(tags=["health"])


class Healthy(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str = Field(description="ready, or not ready (503)")
    checks: dict[str, bool] = Field(description="database, kafka, config: each true when usable")


@router.get("/healthz", response_model=Healthy)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready"}},
)
async def readyz(request: Request, response: Response) -> dict[str, object]:
    state = request.app.state.router
    checks = {
        "database": await database_reachable(state.engine),
        "kafka": await kafka_reachable(state.settings),
        "config": state.configs.current is not None,
    }
    ready = all(checks.values())
    response.status_code = 200 if ready else 503
    return {"status": "ready" if ready else "not ready", "checks": checks}


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def metrics() -> Response:
    body, content_type = metrics_payload()
    return Response(body, media_type=content_type)
