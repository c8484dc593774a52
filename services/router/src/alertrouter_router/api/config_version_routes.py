"""The configuration versions kept in PostgreSQL, newest first, and a readable diff between any two of them.

The diff is the one ``alertrouter config diff A B`` prints (``ownership/diff.py``), computed on the stored
validated content, so it says what changed in meaning (services, routes, schedules, policies…), not in layout.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field

from alertrouter_router import config_versions
from alertrouter_router.api.bodies import BoundedBodyRoute
from alertrouter_router.api.deps import State
from alertrouter_router.ownership.diff import as_json, diff_documents, render
from alertrouter_shared.cursors import encode_cursor, seq_after

router = APIRouter(prefix="/v1/config/versions", tags=["configuration"], route_class=BoundedBodyRoute)

_KIND = "config-version"
_REF = "a version's full hash, a unique prefix of at least 8 hex digits, or `current` (the version this process serves)"


class ConfigVersion(BaseModel):
    version: str = Field(description="sha256 of the validated configuration")
    source_version: str = Field(description="sha256 of its files (as /v1/config and ingest report it)")
    loaded_at: datetime = Field(description="when it came into force (first loaded by a router process)")
    trigger: str = Field(description="startup, api (POST /v1/config/reload), sighup or watch (the files changed)")
    loaded_by: str = Field(description="the user id or client:<name> of the token; client:startup/sighup/watch")
    token_id: str | None
    process: str = Field(description="host:pid of the router process that loaded it first")
    files: list[str]


class ConfigVersionPage(BaseModel):
    items: list[ConfigVersion]
    next_cursor: str | None = Field(description="pass as cursor for the next (older) page; null on the last page")


class FieldChange(BaseModel):
    path: str = Field(description="the field within the item, e.g. escalation_policy or layers[day].participants")
    before: Any
    after: Any


class RuleOrder(BaseModel):
    before: list[str]
    after: list[str]


class SectionDiff(BaseModel):
    section: str = Field(description="teams, users, schedules, escalation_policies, services, route_rules, …")
    added: list[str]
    removed: list[str]
    changed: dict[str, list[FieldChange]] = Field(description="item id -> its changed fields")
    order: RuleOrder | None = Field(description="route rules kept in both but evaluated in another order")
    tried_at: dict[str, int] = Field(
        description="an added route rule -> its position (1: first) in the order rules are tried; empty otherwise"
    )


class ConfigDiff(BaseModel):
    from_version: ConfigVersion
    to_version: ConfigVersion
    sections: list[SectionDiff] = Field(description="only the sections that differ; empty when nothing does")
    text: str = Field(description="the same diff as `alertrouter config diff` prints it")


@router.get("", summary="Configuration versions that came into force, newest first")
async def list_versions(
    state: State,
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = Query(None, description="the next_cursor of the previous page"),
) -> ConfigVersionPage:
    before = None if cursor is None else seq_after(_KIND, cursor)
    async with state.pool.acquire() as conn:
        rows = await config_versions.newest_first(conn, limit, before)
    return ConfigVersionPage(
        items=[ConfigVersion(**row) for row in rows],
        next_cursor=encode_cursor(_KIND, rows[-1]["seq"]) if len(rows) == limit else None,
    )


async def _version(state: State, ref: str) -> dict[str, Any]:
    name = state.configs.current.version if ref == "current" else ref
    async with state.pool.acquire() as conn:
        try:
            found = await config_versions.find(conn, name)
        except config_versions.AmbiguousVersion as exc:
            raise HTTPException(422, str(exc)) from exc
    if found is None:
        raise HTTPException(404, f"no kept configuration version {ref!r} (see GET /v1/config/versions)")
    return found


@router.get(
    "/{from_version}/diff/{to_version}",
    summary="What changed from one configuration version to another: items added, removed, changed field by field",
)
async def diff_versions(
    state: State,
    from_version: str = Path(description=_REF),
    to_version: str = Path(description=_REF),
) -> ConfigDiff:
    old, new = await _version(state, from_version), await _version(state, to_version)
    diffs = diff_documents(old.pop("content"), new.pop("content"))
    return ConfigDiff(
        from_version=ConfigVersion(**old),
        to_version=ConfigVersion(**new),
        sections=[SectionDiff.model_validate(section) for section in as_json(diffs)],
        text=render(diffs),
    )
