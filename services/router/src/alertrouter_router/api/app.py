"""The router's HTTP app: health for every role, the SRE API when this process serves it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI

from alertrouter_router import health
from alertrouter_router.api import (
    audit_routes,
    calendar_feeds,
    config_routes,
    config_version_routes,
    decision_routes,
    drill_routes,
    heartbeat_routes,
    incident_actions,
    incident_routes,
    maintenance_routes,
    oncall_routes,
    override_routes,
    report_routes,
    token_routes,
)
from alertrouter_router.api.permissions import authorize, check_complete
from alertrouter_router.console.routes import install as install_console
from alertrouter_shared.web.bearer import BEARER
from alertrouter_shared.web.errors import install_problem_handlers
from alertrouter_shared.web.openapi import document_problems
from alertrouter_shared.web.queries import declared_query_only

if TYPE_CHECKING:
    from alertrouter_router.state import RouterState


def create_app(state: RouterState, with_api: bool = True) -> FastAPI:
    app = FastAPI(
        title="alertrouter router",
        version="1",
        description="Who is on call, why someone was paged, incidents and their timelines.",
    )
    app.state.router = state
    app.state.token_entries = state.token_entries
    install_problem_handlers(app)
    document_problems(app)
    app.include_router(health.router)
    if with_api:
        modules = (
            oncall_routes,
            decision_routes,
            incident_routes,
            maintenance_routes,
            incident_actions,
            config_routes,
            config_version_routes,
            heartbeat_routes,
            drill_routes,
            token_routes,
            audit_routes,
            calendar_feeds,
            override_routes,
            report_routes,
        )
        check_complete([module.router for module in modules])
        for module in modules:
            # BEARER only declares the scheme in the OpenAPI document: ``authorize`` decides
            guards = [Depends(BEARER), Depends(authorize), Depends(declared_query_only)]
            app.include_router(module.router, dependencies=guards)
        app.include_router(calendar_feeds.public)
        install_console(app)  # the web console under /ui/, on the same port
    else:  # a consumer process: it still says which configuration it serves, and reloads on request
        app.include_router(config_routes.router, dependencies=[Depends(BEARER), Depends(authorize)])
    return app
