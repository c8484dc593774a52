"""Who presents the bearer token: a configured bootstrap entry, or a token stored in the database.

401 (problem+json, ``WWW-Authenticate: Bearer``) without a token, with an unknown one, or with one that expired,
was revoked or whose person left the configuration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request

from alertrouter_router import tokens
from alertrouter_router.identity import Principal, bootstrap_principal
from alertrouter_shared.auth import entry_for
from alertrouter_shared.web.bearer import bearer_token, invalid_token

if TYPE_CHECKING:
    from alertrouter_router.state import RouterState


async def authenticate(request: Request) -> Principal:
    return await principal_for(request.app.state.router, bearer_token(request))


async def principal_for(state: RouterState, token: str) -> Principal:
    """The principal of a token, however it came (a bearer header, or the web console's session cookie)."""
    entry = entry_for(token, state.token_entries)
    if entry is not None:
        return bootstrap_principal(entry)
    try:
        async with state.pool.acquire() as conn:
            found = await tokens.authenticate(conn, token, state.configs.current.config, state.clock.now())
    except tokens.TokenRejected as exc:
        raise invalid_token(str(exc)) from exc
    if found is None:
        raise invalid_token()
    return found
