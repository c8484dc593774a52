"""Dependencies of the SRE API routes (authorization is applied to every ``/v1`` route by ``create_app``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncConnection

if TYPE_CHECKING:
    from alertrouter_router.state import RouterState


def get_state(request: Request) -> RouterState:
    return request.app.state.router  # type: ignore[no-any-return]


async def read_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    async with get_state(request).engine.connect() as conn:
        yield conn


async def declared_query_only(request: Request) -> None:
    """A query parameter the route does not declare is a 422: ignored, a misspelt one changed the answer without a
    word (``/v1/oncall?time=`` answered for now, ``/v1/incidents?state=open`` listed every incident)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    declared = _query_names(route.dependant)
    if not (declared or route.dependant.path_params or route.body_field):
        return  # a route without parameters has nothing to misspell, and its document promises no 422
    unknown = [name for name in request.query_params if name not in declared]
    if unknown:
        raise RequestValidationError(
            [
                {"type": "extra_forbidden", "loc": ("query", name), "msg": "not a parameter of this route"}
                for name in unknown
            ]
        )


def _query_names(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


State = Annotated["RouterState", Depends(get_state)]
ReadConn = Annotated[AsyncConnection, Depends(read_connection)]
