"""Configuration versions kept in PostgreSQL (``router_config_version``): each version of the ownership
configuration that came into force, who or what loaded it, when, and its validated content, so any two can be
compared (``GET /v1/config/versions``, ``…/{a}/diff/{b}``) long after the files changed.

A row is added when a process loads a version that is not the newest one kept: a version is kept when it comes
into force, not once per process (ten replicas restarting add nothing, every process picking up the same change
adds one row: the first), and a return to an earlier version is a new row. Processes load versions while the
database may be away, so the holder remembers what it loaded and ``keep`` is retried until it succeeds.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from alertrouter_router.db.pool import Conn

PROCESS = f"{socket.gethostname()}:{os.getpid()}"[:160]
_LOCK = 0x61725F636667  # advisory lock: one writer at a time decides whether a version is new
_PAGE = (
    "SELECT seq, version, source_version, loaded_at, trigger, loaded_by, token_id, process, files "
    "FROM router_config_version WHERE $1::bigint IS NULL OR seq < $1 ORDER BY seq DESC LIMIT $2"
)
_ONE = (
    "SELECT seq, version, source_version, loaded_at, trigger, loaded_by, token_id, process, files, content "
    "FROM router_config_version WHERE version = $1 ORDER BY seq DESC LIMIT 1"
)
MIN_PREFIX = 8  # a version may be named by this many leading hex digits, like a short commit id


@dataclass(frozen=True)
class VersionLoad:
    """One successful load by this process, as it will be kept."""

    version: str
    source_version: str
    loaded_at: datetime
    trigger: str  # startup | api | sighup | watch
    loaded_by: str  # user id, or "client:<name>"
    token_id: str | None
    files: tuple[str, ...]
    content: dict[str, Any]


async def keep(conn: Conn, load: VersionLoad) -> bool:
    """Keep ``load`` unless the newest kept version is already this one; True when a row was added."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK)
        newest = await conn.fetchval("SELECT version FROM router_config_version ORDER BY seq DESC LIMIT 1")
        if newest == load.version:
            return False
        await conn.execute(
            "INSERT INTO router_config_version (version, source_version, loaded_at, trigger, loaded_by, token_id, "
            "process, files, content) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            load.version,
            load.source_version,
            load.loaded_at,
            load.trigger,
            load.loaded_by,
            load.token_id,
            PROCESS,
            list(load.files),
            load.content,
        )
    return True


async def newest_first(conn: Conn, limit: int, before_seq: int | None) -> list[dict[str, Any]]:
    """A page of kept versions (without their content), newest first, strictly older than ``before_seq``."""
    rows = await conn.fetch(
        _PAGE,
        before_seq,
        limit,
    )
    return [dict(row) for row in rows]


class AmbiguousVersion(ValueError):
    """A prefix that names more than one kept version."""


async def find(conn: Conn, ref: str) -> dict[str, Any] | None:
    """The newest row of the version ``ref`` names (its full hash or a unique prefix of ``MIN_PREFIX`` or more hex
    digits), with its content; None when no kept version matches."""
    ref = ref.lower()
    if len(ref) < MIN_PREFIX or any(c not in "0123456789abcdef" for c in ref):
        return None
    versions = await conn.fetch(
        "SELECT DISTINCT version FROM router_config_version WHERE version LIKE $1 || '%' LIMIT 2", ref
    )
    if len(versions) > 1:
        raise AmbiguousVersion(f"{ref!r} names more than one configuration version: give more digits")
    if not versions:
        return None
    row = await conn.fetchrow(
        _ONE,
        versions[0]["version"],
    )
    return None if row is None else dict(row)
