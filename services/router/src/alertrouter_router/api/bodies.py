"""The ``/v1`` API's request bodies, bounded: over ``ROUTER_MAX_BODY_BYTES`` is 413 problem+json, unread.

FastAPI reads a route's whole body (``request.body()``) before any dependency runs, authorization included, and
only then validates it: a 20 MB body was buffered in full and answered 422. Every ``/v1`` router is made with
``route_class=BoundedBodyRoute``: a route that takes a body reads it first through the shared
``bodies.read_body`` -- a ``Content-Length`` over the limit is refused at once, a chunked body as soon as it passes
the limit, one not complete within ``BODY_READ_SECONDS`` is 408 -- and hands what it read to FastAPI. The
document declares 413 and 408 on exactly those operations. (The console's forms have their own limit,
``console.forms.MAX_FORM_BYTES``.)
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.types import Message

from alertrouter_shared.web.bodies import BOUNDED_BODY_RESPONSES, read_body

BODY_READ_SECONDS = 30.0


class BoundedBodyRoute(APIRoute):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.body_field is not None:
            self.responses = {**BOUNDED_BODY_RESPONSES, **self.responses}

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def bounded(request: Request) -> Response:
            limit: int = request.app.state.router.settings.max_body_bytes
            body = await read_body(request, limit, BODY_READ_SECONDS)
            replayed = False

            async def receive() -> Message:  # the body once, then the connection's own messages (disconnect)
                nonlocal replayed
                if replayed:
                    return await request.receive()
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}

            return await handler(Request(request.scope, receive))

        return bounded
