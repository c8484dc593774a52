"""API tokens stored in the database: created (the secret shown once, only its SHA-256 kept), listed, revoked,
and looked up on every request (with the last use recorded at most once a minute, so reads stay reads).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from alertrouter_router.db.pool import Conn
from alertrouter_router.identity import Principal, Role, new_secret, teams_of
from alertrouter_router.ownership.model import OwnershipConfig
from alertrouter_shared.auth import hash_token

LAST_USED_GRANULARITY = timedelta(minutes=1)
COLUMNS = "id, user_id, client, role, act_as, description, created_by, created_at, expires_at, last_used_at, revoked_at"


class TokenRejected(Exception):
    """The token is unknown, expired or revoked; the message says which (never the token)."""


@dataclass(frozen=True)
class NewToken:
    """Who a token is for: exactly one of ``user_id`` and ``client``."""

    role: Role
    user_id: str | None = None
    client: str | None = None
    act_as: bool = False
    description: str = ""
    expires_at: datetime | None = None


def check_holder(config: OwnershipConfig, new: NewToken) -> str | None:
    """Why the token cannot be created, or None: a person must be in the configuration; only machines act as."""
    if (new.user_id is None) == (new.client is None):
        return "a token belongs to exactly one of a user or a machine client"
    if new.user_id is not None and new.user_id not in config.users_by_id:
        return f"user {new.user_id!r} is not in the ownership configuration"
    if new.user_id is not None and new.act_as:
        return "only machine clients may act as someone else (act_as)"
    return None


async def create(conn: Conn, new: NewToken, created_by: str, now: datetime) -> tuple[str, dict[str, Any]]:
    """The secret (shown once) and the stored row."""
    secret = new_secret()
    row = await conn.fetchrow(
        f"INSERT INTO router_api_token (id, digest, user_id, client, role, act_as, description, created_by, "  # noqa: S608
        f"created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {COLUMNS}",
        str(uuid.uuid4()),
        hash_token(secret),
        new.user_id,
        new.client,
        new.role.value,
        new.act_as,
        new.description,
        created_by,
        now,
        new.expires_at,
    )
    assert row is not None
    return secret, dict(row)


async def listed(conn: Conn, include_revoked: bool) -> list[dict[str, Any]]:
    where = "" if include_revoked else " WHERE revoked_at IS NULL"
    rows = await conn.fetch(f"SELECT {COLUMNS} FROM router_api_token{where} ORDER BY created_at, id")  # noqa: S608
    return [dict(r) for r in rows]


async def revoke(conn: Conn, token_id: str, now: datetime) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(before, after), or None when there is no such token. Revoking twice keeps the first revocation time."""
    before = await conn.fetchrow(f"SELECT {COLUMNS} FROM router_api_token WHERE id = $1 FOR UPDATE", token_id)  # noqa: S608
    if before is None:
        return None
    after = await conn.fetchrow(
        f"UPDATE router_api_token SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1 RETURNING {COLUMNS}",  # noqa: S608
        token_id,
        now,
    )
    assert after is not None
    return dict(before), dict(after)


def refusal(row: Mapping[str, Any], config: OwnershipConfig, now: datetime) -> str | None:
    """Why a stored token (its ``revoked_at``, ``expires_at`` and ``user_id``) is refused now, or None. Calendar
    feeds ask it of the token that made them: a feed URL never outlives its token."""
    if row["revoked_at"] is not None:
        return "the API token was revoked"
    if row["expires_at"] is not None and row["expires_at"] <= now:
        return "the API token has expired"
    user_id = row["user_id"]
    if user_id is not None and user_id not in config.users_by_id:
        return f"the API token's user {user_id!r} is no longer in the ownership configuration"
    return None


async def authenticate(conn: Conn, secret: str, config: OwnershipConfig, now: datetime) -> Principal | None:
    """The principal of a stored token; None when no stored token has this digest; TokenRejected when it is
    expired, revoked, or its user left the configuration."""
    row = await conn.fetchrow(
        f"SELECT {COLUMNS} FROM router_api_token WHERE digest = $1",  # noqa: S608
        hash_token(secret),
    )
    if row is None:
        return None
    if why := refusal(row, config, now):
        raise TokenRejected(why)
    user_id = row["user_id"]
    if row["last_used_at"] is None or now - row["last_used_at"] >= LAST_USED_GRANULARITY:
        await conn.execute("UPDATE router_api_token SET last_used_at = $2 WHERE id = $1", row["id"], now)
    return Principal(
        role=Role(row["role"]),
        user_id=user_id,
        client=row["client"],
        teams=teams_of(config, user_id) if user_id is not None else frozenset(),
        act_as=row["act_as"],
        token_id=row["id"],
    )
