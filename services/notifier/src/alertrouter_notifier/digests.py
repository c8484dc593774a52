"""The digest that closes a flooded window: one message saying how many pages were collapsed, and for what."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from alertrouter_notifier.db.ledger import insert_deliveries, new_delivery_row
from alertrouter_notifier.db.tables import RowState, delivery
from alertrouter_notifier.policy import DeliveryPolicy
from alertrouter_notifier.throttle import Budget, Window, budget_kinds, due_digest_windows, lock_window, save_window
from alertrouter_shared.events import Page, PageKind


def digest_page(window: Window, count: int, last: Page, services: list[str], now: datetime) -> Page:
    since = window.window_start.strftime("%H:%M UTC")
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
    count, last_json, services = window.take_digest(now)
    await save_window(conn, window)
    if count == 0 or last_json is None:
        return None
    page = digest_page(window, count, Page.model_validate(last_json), services, now)
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
