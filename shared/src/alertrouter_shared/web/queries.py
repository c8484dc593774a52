"""Query parameters a route does not declare are refused (422), for every service's ``/v1`` routes."""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute


async def declared_query_only(request: Request) -> None:
    """A query parameter the route does not declare is a 422: ignored, a misspelt one changed the answer without a
    word (``/v1/oncall?time=`` answered for now, ``/v1/incidents?state=open`` listed every incident,
    ``/v1/deliveries?state=failed`` every delivery)."""
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
