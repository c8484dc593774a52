"""Dependencies of the SRE API routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from alertrouter_router.api.auth import require
from alertrouter_shared.auth import Scope

if TYPE_CHECKING:
    from alertrouter_router.state import RouterState


def get_state(request: Request) -> RouterState:
    return request.app.state.router  # type: ignore[no-any-return]


async def read_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    async with get_state(request).engine.connect() as conn:
        yield conn


State = Annotated["RouterState", Depends(get_state)]
ReadConn = Annotated[AsyncConnection, Depends(read_connection)]
READ = [Depends(require(Scope.READ))]
WRITE = [Depends(require(Scope.WRITE))]
