"""The digest that closes a flooded window: one message saying how many pages were collapsed, and for what.

A page held for a digest reaches its person through the digest, so when the digest does not reach them (failed,
undelivered, expired) neither did the page: each held page then gets that outcome too, published like any result,
so the router's "not reached" escalation sees it instead of waiting out the level's delay.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from alertrouter_notifier.db.ledger import insert_deliveries, new_delivery_row
from alertrouter_notifier.db.tables import RowState, delivery
from alertrouter_notifier.metrics import UNDECODABLE_PAGES
from alertrouter_notifier.policy import DeliveryPolicy
from alertrouter_notifier.throttle import Budget, Window, budget_kinds, due_digest_windows, lock_window, save_window
from alertrouter_shared.dead_letters import validation_reason
from alertrouter_shared.events import Page, PageKind
from alertrouter_shared.logging import get_logger

log = get_logger(__name__)


def digest_page(
    window: Window, count: int, last: Page, services: list[str], now: datetime, held_since: datetime
) -> Page:
    """``held_since``: when the closed window began (the window has been restarted at ``now`` by then: the digest
    said "since" the time it was sent)."""
    since = held_since.strftime("%H:%M UTC")
    names = ", ".join(services) or last.service_name or last.service_id
    noun = ("alert", "alerts") if window.budget is Budget.PAGES else ("incident update", "incident updates")
    plural = noun[0] if count == 1 else noun[1]
    page_id = f"digest:{window.key[:16]}:{int(window.window_start.timestamp() * 1000)}"
    if window.budget is Budget.NOTICES:  # the two windows of a destination may close in the same millisecond
        page_id += ":notices"
    return last.model_copy(
        update={
            "page_id": page_id,
            "kind": PageKind.DIGEST,
            "drill": False,  # only real pages are held (intake._throttled); a digest is never a "[DRILL]"
            "summary": f"{count} more {plural} for {names} since {since} (held back by flood protection)",
            "alert_count": 1,
            "labels": {},
            "runbook_url": None,
            "send_at": now,
            "created_at": now,
        }
    )


async def flush_digest(conn: AsyncConnection, window: Window, now: datetime, policy: DeliveryPolicy) -> str | None:
    """Turn the window's suppressed pages into one digest delivery; the caller holds the window's lock."""
    held_since = window.window_start
    try:  # before the window is closed: an undecodable page left it closed, its held pages in no digest
        last = None if window.last_page is None else Page.model_validate(window.last_page)
    except ValidationError as exc:
        # Held by another notifier version (a rollback): raising rolled back every window of the pass, so no
        # destination got a digest. This one waits for a notifier that can read it, as a claimed page does.
        UNDECODABLE_PAGES.inc()
        log.error("digest_page_undecodable", throttle_key=window.key, error=validation_reason(exc))
        return None
    count, services = window.take_digest(now)
    await save_window(conn, window)
    if count == 0 or last is None:
        return None
    page = digest_page(window, count, last, services, now, held_since)
    row = new_delivery_row(page, now, policy) | {"digest_count": count}
    inserted = await insert_deliveries(conn, [(page, row)], now)
    if not inserted:
        return None
    digest_id = inserted[0].id
    await conn.execute(
        delivery.update()
        .where(
            delivery.c.throttle_key == window.key,
            delivery.c.kind.in_(budget_kinds(window.budget)),
            delivery.c.status == RowState.THROTTLED.value,
            delivery.c.digest_delivery_id.is_(None),
        )
        .values(digest_delivery_id=digest_id)
    )
    return digest_id


async def flush_due_digests(conn: AsyncConnection, now: datetime, policy: DeliveryPolicy, limit: int = 50) -> list[str]:
    created: list[str] = []
    for key, budget in await due_digest_windows(conn, now, limit):
        window = await lock_window(conn, key, budget, "", now)
        digest_id = await flush_digest(conn, window, now, policy)
        if digest_id:
            created.append(digest_id)
    return created


# A digest that failed longer ago than this is not looked at again: its incidents have long escalated on their
# timers. Bounds the scan (a partial index holds only failed digests).
HELD_REPORT_HORIZON = timedelta(days=1)
_HELD_LOCK = 0x6E6F7469  # one replica at a time reports held pages (the NOT EXISTS alone would race)

# The held row takes the outcome too: it stayed "throttled" in GET /v1/deliveries (no failure_reason, not found
# by ?status=failed) while the router escalated on it as not reached.
_REPORT_HELD = text(
    """
WITH reported AS (
  INSERT INTO notifier_attempt (delivery_id, attempt, status, provider, provider_status_code, error, at)
  SELECT h.id, 0, d.status, coalesce(d.provider, ''), d.provider_status_code,
         coalesce(d.last_error, 'the digest ' || d.status) || ' (the digest this page was held back for)', :now
  FROM notifier_delivery AS d
  JOIN notifier_delivery AS h ON h.digest_delivery_id = d.id
  WHERE d.kind = 'digest' AND d.status IN ('failed', 'undelivered', 'expired') AND d.updated_at >= :since
    AND h.status = 'throttled'
    AND NOT EXISTS (SELECT 1 FROM notifier_attempt AS a WHERE a.delivery_id = h.id AND a.status = d.status)
  RETURNING id, delivery_id, status, provider_status_code, error
)
UPDATE notifier_delivery AS h
SET status = r.status, provider_status_code = r.provider_status_code, last_error = r.error, updated_at = :now
FROM reported AS r WHERE h.id = r.delivery_id
RETURNING r.id
"""
)


async def report_unreached_held(conn: AsyncConnection, now: datetime) -> list[int]:
    """Give each page held for a digest that did not reach its person that digest's outcome; the new attempt ids
    (to publish). The caller commits."""
    locked = await conn.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _HELD_LOCK})
    if not locked:
        return []
    rows = await conn.execute(_REPORT_HELD, {"now": now, "since": now - HELD_REPORT_HORIZON})
    return [int(row.id) for row in rows]
