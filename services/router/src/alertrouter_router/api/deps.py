"""Dependencies of the SRE API routes (authorization is applied to every ``/v1`` route by ``create_app``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection

if TYPE_CHECKING:
    from alertrouter_router.state import RouterState


def get_state(request: Request) -> RouterState:
    return request.app.state.router  # type: ignore[no-any-return]


async def read_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    async with get_state(request).engine.connect() as conn:
        yield conn


State = Annotated["RouterState", Depends(get_state)]
ReadConn = Annotated[AsyncConnection, Depends(read_connection)]
