"""Liveness, readiness and metrics endpoints shared by the router's API and consumer processes."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from alertrouter_shared.kafka import kafka_reachable
from alertrouter_shared.metrics import metrics_payload

router = APIRouter(tags=["health"])


async def database_reachable(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
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


@router.get("/metrics")
async def metrics() -> Response:
    body, content_type = metrics_payload()
    return Response(body, media_type=content_type)
