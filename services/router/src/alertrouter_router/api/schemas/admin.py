"""Configuration in force, API tokens, the audit trail and calendar feeds."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from alertrouter_router.api.schemas.common import Cursor, Reply, Timestamp
from alertrouter_shared.problems import Problem


class ConfigSummary(Reply):
    version: str = Field(description="sha256 of the validated configuration (decisions carry it)")
    source_version: str = Field(
        description="sha256 of the configuration's files, the same algorithm in ingest: equal everywhere once every "
        "process has converged"
    )
    loaded_at: Timestamp
    files: list[str]
    process: str = Field(description="host:pid of the process that answered")
    last_reload_errors: list[str] = Field(description="why the last reload was rejected; empty if it was not")
    last_reload_rejected_at: Timestamp | None = Field(
        description="when a newer configuration was last refused (as ingest reports it); null after a good reload"
    )


class ConfigRejected(Problem):
    errors: list[str] = Field(description="every problem of the rejected configuration")


class TokenView(Reply):
    id: str
    user_id: str | None
    client: str | None
    role: str
    act_as: bool
    description: str
    created_by: str
    created_at: Timestamp
    expires_at: Timestamp | None
    last_used_at: Timestamp | None
    revoked_at: Timestamp | None


class NewToken(TokenView):
    token: str = Field(description="the secret: shown here once, stored only as its SHA-256")


class Tokens(Reply):
    items: list[TokenView]


class AuditEntry(Reply):
    at: Timestamp
    actor: str = Field(description="a user id, or client:<name>")
    token_id: str | None
    action: str = Field(description="e.g. incident.acknowledge, maintenance.create, token.revoke")
    target_type: str
    target_id: str
    team_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditPage(Reply):
    items: list[AuditEntry]
    next_cursor: Cursor


class FeedView(Reply):
    id: str
    kind: str = Field(description="schedule or user")
    target_id: str
    created_by: str
    created_at: Timestamp
    revoked_at: Timestamp | None


class NewFeed(FeedView):
    url: str = Field(description="/calendar/<secret>.ics: the secret is shown here once")


class Feeds(Reply):
    items: list[FeedView]
