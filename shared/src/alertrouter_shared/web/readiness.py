"""``/readyz`` of the services that keep a database (router, notifier): the database check, and the 503."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

from alertrouter_shared.web.errors import problem_response


class Healthy(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready"]
    checks: dict[str, bool | str] = Field(description="each dependency: true or ok when usable")


async def database_reachable(engine: AsyncEngine) -> bool:
    """True when a connection answers ``SELECT 1``; any failure means not ready (readiness never raises)."""
    from sqlalchemy import text  # here, not at the top: ingest keeps no database and its image has no SQLAlchemy

    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


def not_ready(checks: dict[str, Any]) -> JSONResponse:
    """503 problem+json naming the failing checks (``checks`` keeps every check's value, for an operator)."""
    failing = [name for name, value in checks.items() if value not in (True, "ok")]
    return problem_response(503, f"not ready: {', '.join(failing)}", {"Retry-After": "5"}, checks=checks)


NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {"description": "Not ready: problem+json whose checks member says which dependency is not usable"}
}
