"""The intakes as lean routes: their POSTs go straight from the server to their handler, past FastAPI's stack.

Intake requests are nearly all ingest serves, and at one alert per request the per-request machinery (middleware
chain, exception middleware, route matching over every route, FastAPI's request wrapper) cost more than the work
itself. ``IngestApp`` answers those POSTs with the very handlers the FastAPI routes declare (so the OpenAPI
document, and every other path -- health, metrics, docs -- stay FastAPI's), and writes the access log line itself:
one write per request, with the route *template* so integration keys in paths never reach the logs.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from alertrouter_ingest.api import alertmanager, change_events, cloudwatch, events_v2, grafana, heartbeats
from alertrouter_shared.logging import get_logger, log_each
from alertrouter_shared.web.errors import problem_response

log = get_logger("alertrouter_ingest.access")

Handler = Callable[[Request], Awaitable[Response]]
KeyedHandler = Callable[[str, Request], Awaitable[Response]]

# exact path -> (route template, handler)
_EXACT: dict[str, tuple[str, Handler]] = {
    "/v2/enqueue": ("/v2/enqueue", events_v2.enqueue),
    "/v2/change/enqueue": ("/v2/change/enqueue", change_events.change_enqueue),
    "/v1/alertmanager": ("/v1/alertmanager", alertmanager.alertmanager_webhook_authorization),
    "/v1/grafana": ("/v1/grafana", grafana.grafana_webhook_authorization),
}
# path prefix (the key follows, one segment) -> (route template, handler)
_KEYED: dict[str, tuple[str, KeyedHandler]] = {
    "/v1/alertmanager/": ("/v1/alertmanager/{integration_key}", alertmanager.alertmanager_webhook),
    "/v1/grafana/": ("/v1/grafana/{integration_key}", grafana.grafana_webhook),
    "/v1/cloudwatch/": ("/v1/cloudwatch/{integration_key}", cloudwatch.sns_delivery),
    "/v1/heartbeats/": ("/v1/heartbeats/{integration_key}", heartbeats.heartbeat),
}


def intake_route(path: str) -> tuple[str, Handler] | None:
    """The route template and handler for an intake POST to ``path``, or None for every other path."""
    exact = _EXACT.get(path)
    if exact is not None:
        return exact
    for prefix, (template, keyed) in _KEYED.items():
        if path.startswith(prefix):
            key = path[len(prefix) :]
            if key and "/" not in key:
                return template, _with_key(keyed, key)
    return None


def _with_key(handler: KeyedHandler, key: str) -> Handler:
    async def handle(request: Request) -> Response:
        return await handler(key, request)

    return handle


class IngestApp(FastAPI):
    """FastAPI, except that intake POSTs are served directly (see the module docstring)."""

    access_log = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        started = time.perf_counter()
        route = intake_route(scope["path"]) if scope["method"] == "POST" else None
        if route is None:
            status = await self._through_fastapi(scope, receive, send)
            template = getattr(scope.get("route"), "path", "<unmatched>")
        else:
            template, handler = route
            scope["app"] = self
            try:
                response = await handler(Request(scope, receive))
            except Exception as exc:  # the FastAPI path's catch-all, for the lean path
                log.error("unhandled_error", error_type=type(exc).__name__, route=template)
                response = problem_response(500, "internal error; nothing was accepted")
            await response(scope, receive, send)
            status = response.status_code
        if self.access_log:
            duration_ms = round((time.perf_counter() - started) * 1000, 2)
            row = {"method": scope["method"], "route": template, "status": status, "duration_ms": duration_ms}
            log_each(log, "http_request", [row])

    async def _through_fastapi(self, scope: Scope, receive: Receive, send: Send) -> int:
        answered: dict[str, Any] = {"status": 500}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                answered["status"] = message["status"]
            await send(message)

        await super().__call__(scope, receive, capture)
        return int(answered["status"])
