"""API tokens of people and machine clients: created (the secret shown once), listed, revoked; admins only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import Field

from alertrouter_router import audit, tokens
from alertrouter_router.api.bodies import BoundedBodyRoute
from alertrouter_router.api.deps import State
from alertrouter_router.api.permissions import Who
from alertrouter_router.api.schemas.admin import NewToken, Tokens, TokenView
from alertrouter_router.api.schemas.common import RequestBody
from alertrouter_router.identity import Role
from alertrouter_router.ownership.timespec import Instant
from alertrouter_shared.integrations import Identifier

router = APIRouter(prefix="/v1/tokens", tags=["tokens"], route_class=BoundedBodyRoute)


class TokenIn(RequestBody):
    user: Identifier | None = Field(None, description="a user of the ownership configuration")
    client: Identifier | None = Field(None, description="or the name of a machine client")
    role: Role = Field(Role.RESPONDER, description="viewer, responder, team_admin or admin")
    act_as: bool = Field(False, description="machine clients only: may name the person they act for ('by')")
    description: str = Field("", max_length=500)
    expires_at: Instant | None = Field(None, description="default: never")


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


@router.get("", response_model=Tokens, summary="API tokens (never their secrets)")
async def list_tokens(state: State, include_revoked: bool = False) -> dict[str, Any]:
    async with state.pool.acquire() as conn:
        rows = await tokens.listed(conn, include_revoked)
    return {"items": [_shown(r) for r in rows]}


@router.post(
    "",
    status_code=201,
    response_model=NewToken,
    summary="Create a token: its secret is in this response and nowhere else",
)
async def create_token(body: TokenIn, state: State, who: Who) -> dict[str, Any]:
    new = tokens.NewToken(body.role, body.user, body.client, body.act_as, body.description, body.expires_at)
    if why := tokens.check_holder(state.configs.current.config, new):
        raise HTTPException(422, why)
    now = state.clock.now()
    if body.expires_at is not None and body.expires_at <= now:
        raise HTTPException(422, "expires_at: the token would already have expired")
    async with state.pool.acquire() as conn, conn.transaction():
        secret, row = await tokens.create(conn, new, who.actor, now)
        shown = _shown(row)
        await audit.record(conn, audit.entry(who, now, "token.create", row["id"], after=shown))
    return {**shown, "token": secret}


@router.delete("/{token_id}", response_model=TokenView, summary="Revoke a token: refused from now on")
async def revoke_token(token_id: str, state: State, who: Who) -> dict[str, Any]:
    now = state.clock.now()
    async with state.pool.acquire() as conn, conn.transaction():
        changed = await tokens.revoke(conn, token_id, now)
        if changed is None:
            raise HTTPException(404, f"token {token_id!r} not found")
        before, after = _shown(changed[0]), _shown(changed[1])
        await audit.record(conn, audit.entry(who, now, "token.revoke", token_id, before=before, after=after))
    return after
