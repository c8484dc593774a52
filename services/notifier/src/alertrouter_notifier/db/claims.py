"""Claiming deliveries for sending (SKIP LOCKED, under a lease), and handing back claims whose sender never started.

Like ``ledger``, each function takes an open connection; a claim is one statement, atomic without a transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from alertrouter_notifier.db.ledger import ClaimedDelivery
from alertrouter_notifier.metrics import UNDECODABLE_PAGES
from alertrouter_shared.dead_letters import validation_reason
from alertrouter_shared.events import Page
from alertrouter_shared.logging import get_logger

log = get_logger(__name__)


_RELEASE = text(
    "UPDATE notifier_delivery SET status = 'pending', attempt_count = 0, lease_until = NULL, updated_at = :now "
    "WHERE id = ANY(:ids) AND coalesce(status, '') = 'sending' AND attempt_count = 1 RETURNING id"
)


async def release_claims(conn: AsyncConnection, ids: Sequence[str], now: datetime) -> list[str]:
    """Hand back, due and unclaimed, the rows an admission INSERT claimed when its commit was in doubt (the
    connection lost after the server committed): their sender never started, and without this they waited out
    the lease. A row id is made by the admission that inserted it, so a row found here is that claim's; its
    first attempt still holding means nobody has claimed it since."""
    if not ids:
        return []
    return [row.id for row in await conn.execute(_RELEASE, {"ids": list(ids), "now": now})]


_CLAIM = """
WITH due AS (
    SELECT id FROM notifier_delivery
    WHERE {which}
    ORDER BY {order}
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
)
UPDATE notifier_delivery AS d
SET status = 'sending', lease_until = :lease_until, attempt_count = d.attempt_count + 1, updated_at = :now
FROM due WHERE d.id = due.id
RETURNING d.id, d.page, d.attempt_count, d.provider_slot, d.deadline_at, d.failover_at
"""
_QUEUED = "{status} IN ('pending', 'retrying') AND next_attempt_at <= :now"
_ABANDONED = "{status} = 'sending' AND lease_until < :now"
_CLAIM_QUEUED = text(_CLAIM.format(which=_QUEUED.format(status="status"), order="next_attempt_at"))
_CLAIM_ABANDONED = text(_CLAIM.format(which=_ABANDONED.format(status="status"), order="lease_until"))
_UNINDEXED = "coalesce(status, '')"
_CLAIM_THESE = text(
    _CLAIM.format(
        which=f"id = ANY(:ids) AND (({_QUEUED}) OR ({_ABANDONED}))".format(status=_UNINDEXED),
        order="next_attempt_at",
    )
)
# Two claims, not one with OR: with an OR the planner combines two bitmap scans of ix_notifier_delivery_due, and
# a bitmap scan never marks the dead index entries it meets (a plain index scan does), so every claim walked the
# 'sending' range, which gains a dead entry for each delivery sent: 90 million entries read in one benchmark run.
# The claim by ids reads ``coalesce(status, '')`` so that each row is found by its primary key (see _STORE).


async def claim_due(
    conn: AsyncConnection,
    now: datetime,
    lease_until: datetime,
    limit: int,
    only_ids: Sequence[str] | None = None,
    *,
    abandoned: bool = False,
) -> list[ClaimedDelivery]:
    """Take due deliveries under a lease; other workers skip them.

    ``only_ids`` claims those deliveries if due or abandoned; otherwise the queue's due deliveries, or with
    ``abandoned`` the ones whose sender's lease ran out (a crashed or stalled worker) instead.
    """
    params: dict[str, Any] = {"now": now, "lease_until": lease_until, "limit": limit}
    statement = _CLAIM_ABANDONED if abandoned else _CLAIM_QUEUED
    if only_ids is not None:
        statement = _CLAIM_THESE
        params["ids"] = list(only_ids)
    return _decoded(await conn.execute(statement, params))


_CLAIMED_WITH = """
SELECT id, page, attempt_count, provider_slot, deadline_at, failover_at FROM notifier_delivery
WHERE status = 'sending' AND lease_until = :lease_until{these} ORDER BY id LIMIT :limit
"""
_CLAIMED_WITH_LEASE = text(_CLAIMED_WITH.format(these=""))
_CLAIMED_THESE_WITH_LEASE = text(_CLAIMED_WITH.format(these=" AND id = ANY(:ids)"))


async def claimed_with_lease(
    conn: AsyncConnection, lease_until: datetime, limit: int, only_ids: Sequence[str] | None = None
) -> list[ClaimedDelivery]:
    """What a claim whose commit was in doubt (the connection lost after the server committed, before its answer)
    took: the rows it left 'sending' under its own lease. Without this they waited out that lease unsent."""
    params: dict[str, Any] = {"lease_until": lease_until, "limit": limit}
    statement = _CLAIMED_WITH_LEASE
    if only_ids is not None:
        statement = _CLAIMED_THESE_WITH_LEASE
        params["ids"] = list(only_ids)
    return _decoded(await conn.execute(statement, params))


def _decoded(rows: Iterable[Any]) -> list[ClaimedDelivery]:
    claimed = []
    for row in rows:
        try:
            page = Page.model_validate(row.page)
        except ValidationError as exc:
            # Stored by another notifier version (a rolling upgrade or a rollback): the claim is committed, so
            # raising here left every delivery claimed with it unsent until its lease ran out, again and again.
            # This one stays claimed; after its lease, a notifier that can decode it takes it.
            UNDECODABLE_PAGES.inc()
            log.error(
                "delivery_undecodable", delivery_id=row.id, errors=exc.error_count(), error=validation_reason(exc)
            )
            continue
        claimed.append(
            ClaimedDelivery(
                id=row.id,
                page=page,
                attempt=row.attempt_count,
                provider_slot=row.provider_slot,
                deadline_at=row.deadline_at,
                failover_at=row.failover_at,
            )
        )
    return claimed
