"""The bearer token of a request, and its declaration in the OpenAPI document.

``BEARER`` is a FastAPI security dependency that never refuses by itself (``auto_error=False``): added to a
route it only declares the scheme, so each service keeps its own rule of who the token is and what it may do.
"""

from __future__ import annotations

from fastapi import HTTPException, Request
from fastapi.security import HTTPBearer

SCHEME = "bearerToken"
CHALLENGE = {"WWW-Authenticate": "Bearer"}

BEARER = HTTPBearer(
    scheme_name=SCHEME,
    description="An API token: `Authorization: Bearer <token>`; 401 problem+json without one or with an unknown one",
    auto_error=False,
)


def bearer_token(request: Request) -> str:
    """The presented token, or 401 problem+json with a ``WWW-Authenticate: Bearer`` challenge."""
    kind, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if kind.lower() != "bearer" or not token:
        raise HTTPException(401, "a bearer API token is required", headers=CHALLENGE)
    return token


def invalid_token(detail: str = "the API token is not valid") -> HTTPException:
    return HTTPException(401, detail, headers=CHALLENGE)
