"""``/healthz``, ``/readyz`` and ``/metrics`` of the services that keep a database (router, notifier): one set of
routes, each service giving its own readiness checks. (Ingest serves its own, past FastAPI's stack.)

Readiness answers within ``READINESS_SECONDS``: the checks run at once, each bounded by it, and one that has not
answered by then counts as not usable. A kubelet's probe gives up after its own ``timeoutSeconds`` (the Helm
chart's is above this bound); a check that outlived it would be a failed probe, whatever it found in the end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

from alertrouter_shared.metrics import metrics_payload
from alertrouter_shared.web.errors import problem_response

ReadinessChecks = Callable[[Request], Awaitable[dict[str, Any]]]

# The longest any readiness check may take; the Kafka check's own timeout (``kafka_reachable``) is the same.
READINESS_SECONDS = 3.0


class Healthy(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready"]
    checks: dict[str, bool | str] = Field(description="each dependency: true or ok when usable")


async def database_reachable(engine: AsyncEngine, timeout: float = READINESS_SECONDS) -> bool:
    """True when a connection answers ``SELECT 1`` within ``timeout``; any failure means not ready (readiness never
    raises). Without the bound a pool at its limit waited its 30 s checkout timeout, and a database that accepts
    connections but does not answer, asyncpg's 60 s connect timeout."""
    from sqlalchemy import text  # here, not at the top: ingest keeps no database and its image has no SQLAlchemy

    try:
        async with asyncio.timeout(timeout), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


async def run_checks(checks: dict[str, Awaitable[Any]], timeout: float = READINESS_SECONDS) -> dict[str, Any]:
    """Await the checks together, each bounded by ``timeout``: a check that did not answer in time (or raised) is
    ``False``. The slowest check, not the sum, decides how long readiness takes."""

    async def bounded(check: Awaitable[Any]) -> Any:
        try:
            async with asyncio.timeout(timeout):
                return await check
        except Exception:
            return False

    values = await asyncio.gather(*(bounded(check) for check in checks.values()))
    return dict(zip(checks, values, strict=True))


def _usable(value: Any) -> bool:
    return value is True or value == "ok"


def not_ready(checks: dict[str, Any]) -> JSONResponse:
    """503 problem+json naming the failing checks (``checks`` keeps every check's value, for an operator)."""
    failing = [name for name, value in checks.items() if not _usable(value)]
    return problem_response(503, f"not ready: {', '.join(failing)}", {"Retry-After": "5"}, checks=checks)


NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {"description": "Not ready: problem+json whose checks member says which dependency is not usable"}
}


def health_routes(checks: ReadinessChecks) -> APIRouter:
    """Liveness (the process answers), readiness (every one of ``checks`` usable, else 503 naming the failing ones)
    and the Prometheus metrics. ``checks`` maps each dependency to true or "ok" when usable."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz", response_model=Healthy)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", response_model=Ready, responses=NOT_READY)
    async def readyz(request: Request) -> Any:
        found = await checks(request)
        if not all(_usable(value) for value in found.values()):
            return not_ready(found)
        return {"status": "ready", "checks": found}

    @router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
    async def metrics() -> Response:
        body, content_type = metrics_payload()
        return Response(body, media_type=content_type)

    return router
