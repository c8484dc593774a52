"""The configuration in force in this process, and reloading it.

Every router process serves these two routes, consumers too (they serve no other ``/v1`` route), so an operator
can ask each process which version it serves; the watch on the files makes them converge without a reload.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from alertrouter_router import audit
from alertrouter_router.api.bodies import BoundedBodyRoute
from alertrouter_router.api.deps import State
from alertrouter_router.api.permissions import Who
from alertrouter_router.api.schemas.admin import ConfigRejected, ConfigSummary
from alertrouter_router.config_versions import PROCESS
from alertrouter_router.config_watch import keep_loaded
from alertrouter_router.ownership.errors import ConfigError
from alertrouter_shared.problems import PROBLEM_CONTENT_TYPE, problem

router = APIRouter(prefix="/v1/config", tags=["configuration"], route_class=BoundedBodyRoute)


def _summary(state: State) -> dict[str, Any]:
    loaded = state.configs.current
    rejected_at = state.configs.last_rejected_at
    return {
        "version": loaded.version,
        "source_version": state.configs.source_version,
        "loaded_at": loaded.loaded_at.isoformat(),
        "files": list(loaded.files),
        "process": PROCESS,
        "last_reload_errors": state.configs.last_error,
        "last_reload_rejected_at": rejected_at.isoformat() if rejected_at else None,
    }


@router.get(
    "", response_model=ConfigSummary, summary="The configuration version this process serves, its load time and files"
)
async def get_config(state: State) -> dict[str, Any]:
    return _summary(state)


@router.post(
    "/reload",
    summary="Reload this process now; an invalid configuration is rejected (422), the old one stays",
    response_model=ConfigSummary,
    responses={422: {"model": ConfigRejected, "description": "The new configuration is not valid; the old one stays"}},
)
async def reload(state: State, who: Who) -> Any:
    before = {"version": state.configs.current.version}
    try:
        state.configs.reload("api", who.actor, who.token_id)
    except ConfigError as exc:
        errors = [str(issue) for issue in exc.issues]
        await audit.record_reload(state.engine, who, state.clock.now(), before, {**before, "rejected": errors})
        body = problem(
            422,
            f"configuration rejected ({len(errors)} error(s)); still serving {state.configs.current.short_version}",
            errors=errors,
        )
        return JSONResponse(body, 422, media_type=PROBLEM_CONTENT_TYPE)
    await keep_loaded(state)
    await audit.record_reload(state.engine, who, state.clock.now(), before, {"version": state.configs.current.version})
    return _summary(state)
