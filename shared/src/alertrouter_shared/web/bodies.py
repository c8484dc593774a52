"""Reading a request body within a size limit and a deadline, for every service's endpoints that take one.

Starlette buffers a whole body on ``request.body()``, however large and however slowly it arrives; on the routes
the internet reaches (intake, Twilio and Slack callbacks, the console's sign-in) a client could hold memory or a
connection without bound before any signature or credential was checked. Here the body is refused (413) as soon
as it exceeds the limit, never buffering more, and refused (408) when it is not complete within the deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request

# For a route's ``responses=``: the document's completion gives each the problem+json body.
BOUNDED_BODY_RESPONSES: dict[int | str, dict[str, Any]] = {
    408: {"description": "The body did not arrive within the read deadline"},
    413: {"description": "The body is over the size limit (nothing beyond the limit was read)"},
}


class BodyRefused(HTTPException):
    """413, 408 or 400, with a bounded ``reason`` for metrics; FastAPI apps render it as problem+json as it is.

    The connection stays open: uvicorn discards the rest of the body and the client, once it has sent it, reads
    the answer (closing with unread data would reset the connection and could lose the answer).
    """

    def __init__(self, status: int, detail: str, reason: str) -> None:
        super().__init__(status, detail)
        self.reason = reason


async def read_body(
    request: Request, limit: int, timeout: float, on_chunk: Callable[[int], None] | None = None
) -> bytes:
    """The whole body, or ``BodyRefused``. ``on_chunk`` is told each chunk's size before it is kept; whatever it
    raises refuses the body there (ingest's byte budget)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise _too_large(size, limit)
                if on_chunk is not None:
                    on_chunk(len(chunk))
                chunks.append(chunk)
    except TimeoutError as exc:
        raise BodyRefused(408, f"the body was not received within {timeout:g} seconds", "body_timeout") from exc
    except ClientDisconnect as exc:
        raise BodyRefused(400, "the client disconnected before sending the whole body", "disconnect") from exc
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> BodyRefused:
    return BodyRefused(413, f"the body is larger than the limit of {limit} bytes (at least {size} bytes)", "too_large")
