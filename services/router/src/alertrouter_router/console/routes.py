"""Mounting the console on the router's API app: its pages, its static assets and its HTML error pages."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from alertrouter_router.api.permissions import check_console_complete
from alertrouter_router.console import (
    health_page,
    incident_pages,
    now_page,
    preview_page,
    schedule_pages,
    service_pages,
    sign_in_pages,
    why_page,
)
from alertrouter_router.console.errors import ConsoleError, SignInRequired
from alertrouter_router.console.rendering import error_page, sign_in_redirect

STATIC = Path(__file__).parent / "static"
PAGES = (
    sign_in_pages,
    now_page,
    incident_pages,
    why_page,
    service_pages,
    schedule_pages,
    preview_page,
    health_page,
)


def install(app: FastAPI) -> None:
    """``/ui/`` on the same app and port as the API; refuses to start when a console route has no rule."""
    routers = [module.router for module in PAGES]
    check_console_complete(routers)
    for router in routers:
        app.include_router(router, include_in_schema=False)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="console-static")
    app.add_exception_handler(ConsoleError, error_page)
    app.add_exception_handler(SignInRequired, sign_in_redirect)

    @app.get("/ui", include_in_schema=False)
    async def console_root() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=308)
