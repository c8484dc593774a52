"""Mounting the console on the router's API app: its pages, its static assets and its HTML error pages."""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

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
from alertrouter_router.console.rendering import error_page, failure_page, sign_in_redirect

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


Handler = Callable[[Request, Any], Response | Awaitable[Response]]


def _for_people(api: Handler) -> Handler:
    """Under ``/ui/`` an unknown page, a database that went away or a bug is an HTML page like every other
    console error; the API's handler still runs first, so the status (404, 503, 500) and the log stay its own."""

    async def handle(request: Request, exc: Exception) -> Response:
        answered = api(request, exc)
        if inspect.isawaitable(answered):
            answered = await answered
        if not request.url.path.startswith("/ui/"):
            return answered
        detail = exc.detail if isinstance(exc, HTTPException) and isinstance(exc.detail, str) else _detail(answered)
        return await failure_page(request, answered.status_code, detail)

    return handle


def _detail(answered: Response) -> str:
    """The API's problem+json detail (a 422 for a value that cannot be stored says which), else "failed"."""
    try:
        detail = json.loads(bytes(answered.body)).get("detail")
    except (ValueError, AttributeError):
        return "failed"
    return detail if isinstance(detail, str) else "failed"


def install(app: FastAPI) -> None:
    """``/ui/`` on the same app and port as the API; refuses to start when a console route has no rule."""
    routers = [module.router for module in PAGES]
    check_console_complete(routers)
    for router in routers:
        app.include_router(router, include_in_schema=False)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="console-static")
    app.add_exception_handler(ConsoleError, error_page)
    app.add_exception_handler(SignInRequired, sign_in_redirect)
    for kind in (HTTPException, Exception):  # the API's handlers, installed before: still theirs outside /ui
        app.add_exception_handler(kind, _for_people(app.exception_handlers[kind]))

    @app.get("/ui", include_in_schema=False)
    async def console_root() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=308)
