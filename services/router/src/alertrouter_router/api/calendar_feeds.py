"""Calendar feed URLs for clients that cannot send an Authorization header (Google, Apple, Outlook).

``POST /v1/calendar-feeds`` (any person or client) makes a URL ``/calendar/<secret>.ics`` for a schedule or a
user; the secret in the path is the credential, stored only as its SHA-256, shown once. Revoking (the creator or an
admin) makes the URL answer 404 at once; so does revoking the token that made it, its expiry, or its person
leaving the configuration: a feed URL never outlives the credential it was made with. The feed serves what the
bearer-token routes ``/v1/schedules/{id}/calendar.ics`` and ``/v1/users/{id}/calendar.ics`` serve, for the next
28 days.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, HTTPException, Response
from pydantic import Field

from alertrouter_router import audit, tokens
from alertrouter_router.api.bodies import BoundedBodyRoute
from alertrouter_router.api.deps import State
from alertrouter_router.api.oncall_routes import ICAL
from alertrouter_router.api.permissions import Who
from alertrouter_router.api.schemas.admin import Feeds, FeedView, NewFeed
from alertrouter_router.api.schemas.common import RequestBody
from alertrouter_router.identity import BOOTSTRAP_ACTOR_PREFIX, Role, bootstrap_principal
from alertrouter_router.ownership.ical import schedule_calendar, user_calendar
from alertrouter_router.ownership.model import OwnershipConfig
from alertrouter_shared.auth import hash_token

if TYPE_CHECKING:
    from alertrouter_router.state import RouterState

router = APIRouter(prefix="/v1/calendar-feeds", tags=["calendars"], route_class=BoundedBodyRoute)
public = APIRouter(tags=["calendars"])  # no bearer token: the secret in the path is the credential
FEED_DAYS = 28
COLUMNS = "id, kind, target_id, created_by, created_at, revoked_at"


class FeedIn(RequestBody):
    schedule: str | None = Field(None, description="a schedule's feed")
    user: str | None = Field(None, description="or a user's shifts")


def _shown(row: Any) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in dict(row).items()}


@router.post(
    "", status_code=201, response_model=NewFeed, summary="A calendar feed URL with a secret in its path (shown once)"
)
async def create_feed(body: FeedIn, state: State, who: Who) -> dict[str, Any]:
    config = state.configs.current
    if (body.schedule is None) == (body.user is None):
        raise HTTPException(422, "give exactly one of 'schedule' and 'user'")
    kind: Literal["schedule", "user"] = "schedule" if body.schedule is not None else "user"
    target = body.schedule or body.user or ""
    known = config.schedules_by_id if kind == "schedule" else config.users_by_id
    if target not in known:
        raise HTTPException(422, f"{kind}: {target!r} is not in the ownership configuration")
    secret = secrets.token_urlsafe(32)
    now = state.clock.now()
    async with state.pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            f"INSERT INTO router_calendar_feed (id, digest, kind, target_id, created_by, token_id, created_at) "  # noqa: S608
            f"VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}",
            str(uuid.uuid4()),
            hash_token(secret),
            kind,
            target,
            who.actor,
            who.token_id,
            now,
        )
        shown = _shown(row)
        await audit.record(conn, audit.entry(who, now, "calendar_feed.create", shown["id"], after=shown))
    return {**shown, "url": f"/calendar/{secret}.ics"}


@router.get("", response_model=Feeds, summary="Calendar feeds (yours; an admin sees all), never their secrets")
async def list_feeds(state: State, who: Who) -> dict[str, Any]:
    mine = "" if who.role is Role.ADMIN else " AND created_by = $1"
    args = [] if who.role is Role.ADMIN else [who.actor]
    async with state.pool.acquire() as conn:
        rows = await conn.fetch(
            f"SELECT {COLUMNS} FROM router_calendar_feed WHERE revoked_at IS NULL{mine} ORDER BY created_at",  # noqa: S608
            *args,
        )
    return {"items": [_shown(r) for r in rows]}


@router.delete("/{feed_id}", response_model=FeedView, summary="Revoke a calendar feed: its URL answers 404 from now on")
async def revoke_feed(feed_id: str, state: State, who: Who) -> dict[str, Any]:
    now = state.clock.now()
    async with state.pool.acquire() as conn, conn.transaction():
        before = await conn.fetchrow(f"SELECT {COLUMNS} FROM router_calendar_feed WHERE id = $1 FOR UPDATE", feed_id)  # noqa: S608
        if before is None:
            raise HTTPException(404, f"calendar feed {feed_id!r} not found")
        if before["created_by"] != who.actor and who.role is not Role.ADMIN:
            raise HTTPException(403, f"{who.describe()} may not revoke a calendar feed {before['created_by']} made")
        after = await conn.fetchrow(
            f"UPDATE router_calendar_feed SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1 RETURNING {COLUMNS}",  # noqa: S608
            feed_id,
            now,
        )
        item = audit.entry(who, now, "calendar_feed.revoke", feed_id, before=_shown(before), after=_shown(after))
        await audit.record(conn, item)
    return _shown(after)


@public.get(
    "/calendar/{secret}.ics", response_class=Response, responses=ICAL, summary="A calendar feed (the secret is the key)"
)
async def feed(secret: str, state: State) -> Response:
    async with state.pool.acquire() as conn:
        row = await conn.fetchrow(_FEED, hash_token(secret))
    config = state.configs.current
    now = state.clock.now()
    until = now + timedelta(days=FEED_DAYS)
    if row is None or creator_refused(row, config.config, _bootstrap_actors(state), now):
        raise HTTPException(404, "no such calendar feed")
    if row["kind"] == "schedule" and row["target_id"] in config.schedules_by_id:
        schedule = config.schedules_by_id[row["target_id"]]
        return Response(
            schedule_calendar(schedule, config.users_by_id, now, until, generated_at=now), media_type="text/calendar"
        )
    if row["kind"] == "user" and row["target_id"] in config.users_by_id:
        return Response(
            user_calendar(config.config, row["target_id"], now, until, generated_at=now), media_type="text/calendar"
        )
    raise HTTPException(404, "no such calendar feed")


_FEED = (
    "SELECT f.kind, f.target_id, f.created_by, f.token_id, t.id AS token_found, t.revoked_at, t.expires_at, "
    "t.user_id FROM router_calendar_feed f LEFT JOIN router_api_token t ON t.id = f.token_id "
    "WHERE f.digest = $1 AND f.revoked_at IS NULL"
)


def _bootstrap_actors(state: RouterState) -> frozenset[str]:
    return frozenset(bootstrap_principal(entry).actor for entry in state.token_entries)


def creator_refused(
    row: Mapping[str, Any], config: OwnershipConfig, bootstrap_actors: frozenset[str], now: datetime
) -> bool:
    """Whether the credential that made a feed would be refused now. Feeds made before migration 0016 have no
    token on record: a person's must still be in the configuration, a bootstrap client's still configured; a
    stored machine client's (``client:<name>``) cannot be told apart and is kept."""
    if row["token_id"] is not None:
        return row["token_found"] is None or tokens.refusal(row, config, now) is not None
    creator: str = row["created_by"]
    if creator.startswith(BOOTSTRAP_ACTOR_PREFIX):
        return creator not in bootstrap_actors
    return not creator.startswith("client:") and creator not in config.users_by_id
