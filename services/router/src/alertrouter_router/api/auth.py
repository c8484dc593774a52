"""Bearer-token scopes for the SRE API: 401 without a valid token, 403 without the needed scope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Request

from alertrouter_shared.auth import Scope, TokenEntry, scopes_for


def require(scope: Scope) -> Callable[[Request], Awaitable[None]]:
    async def check(request: Request) -> None:
        entries: list[TokenEntry] = request.app.state.token_entries
        header = request.headers.get("authorization", "")
        kind, _, token = header.partition(" ")
        if kind.lower() != "bearer" or not token:
            raise HTTPException(401, "a bearer API token is required", headers={"WWW-Authenticate": "Bearer"})
        scopes = scopes_for(token.strip(), entries)
        if scopes is None:
            raise HTTPException(401, "the API token is not valid", headers={"WWW-Authenticate": "Bearer"})
        if scope not in scopes:
            raise HTTPException(403, f"the API token lacks the '{scope}' scope")

    return check
