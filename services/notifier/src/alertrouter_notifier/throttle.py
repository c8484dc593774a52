"""Flood protection: a fixed window per destination admits at most N messages; the rest wait for one digest.

The window state lives in ``notifier_throttle`` and is changed under a row lock, so several notifier replicas
share one budget per destination. Nothing is dropped: a suppressed page is recorded as ``throttled`` and
counted into the digest that is sent when the window closes.

A destination has two budgets: one for pages that ask for action (triggers) and one for the notices that tell
how an incident moved on (acknowledged, resolved, escalated, shift reminders). With one budget, the resolved
notices of a storm that just ended used it up and the next incident's trigger was held back for up to a window,
then went out only as a digest without an acknowledge link; exempting notices instead would flood the phone with
them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from alertrouter_notifier.db.tables import throttle
from alertrouter_shared.events import Page, PageKind

MAX_DIGEST_SERVICES = 5


class Budget(StrEnum):
    PAGES = "pages"
    NOTICES = "notices"


NOTICE_KINDS = frozenset({PageKind.ACKNOWLEDGED, PageKind.RESOLVED, PageKind.ESCALATED, PageKind.SHIFT_REMINDER})


def budget_of(kind: PageKind) -> Budget:
    return Budget.NOTICES if kind in NOTICE_KINDS else Budget.PAGES


def budget_kinds(budget: Budget) -> list[str]:
    """The delivery kinds a window of ``budget`` holds back (what its digest stands for)."""
    notices = budget is Budget.NOTICES
    return [kind.value for kind in PageKind if (kind in NOTICE_KINDS) == notices and kind is not PageKind.DIGEST]


@dataclass
class Window:
    """The mutable state of one destination's window, loaded under lock and written back."""

    key: str
    budget: Budget
    window_start: datetime
    sent_in_window: int
    suppressed: int
    digest_due_at: datetime | None
    last_page: dict[str, Any] | None
    services: list[str]

    def expired(self, now: datetime, length: timedelta) -> bool:
        return now >= self.window_start + length

    def restart(self, now: datetime, already_sent: int = 0) -> None:
        self.window_start = now
        self.sent_in_window = already_sent

    def admit(self, page: Page, now: datetime, limit: int, length: timedelta) -> bool:
        """True when the page may be sent now; otherwise it is counted into the pending digest."""
        if self.expired(now, length) and self.suppressed == 0:
            self.restart(now)
        if self.sent_in_window < limit and self.suppressed == 0:
            self.sent_in_window += 1
            return True
        self.suppressed += 1
        self.digest_due_at = self.digest_due_at or self.window_start + length
        self.last_page = page.model_dump(mode="json")
        service = page.service_name or page.service_id
        if service not in self.services and len(self.services) < MAX_DIGEST_SERVICES:
            self.services.append(service)
        return False

    def take_digest(self, now: datetime) -> tuple[int, list[str]]:
        """Close the window (how many it held, for which services): the digest is the first message of the next one."""
        taken = (self.suppressed, list(self.services))
        self.suppressed = 0
        self.digest_due_at = None
        self.last_page = None
        self.services = []
        self.restart(now, already_sent=1)
        return taken


async def lock_window(conn: AsyncConnection, key: str, budget: Budget, channel: str, now: datetime) -> Window:
    await conn.execute(
        insert(throttle)
        .values(
            key=key, budget=budget.value, channel=channel, window_start=now, sent_in_window=0, suppressed=0, services=[]
        )
        .on_conflict_do_nothing(index_elements=["key", "budget"])
    )
    query = select(throttle).where(throttle.c.key == key, throttle.c.budget == budget.value).with_for_update()
    row = (await conn.execute(query)).mappings().one()
    return Window(
        key=key,
        budget=budget,
        window_start=row["window_start"],
        sent_in_window=row["sent_in_window"],
        suppressed=row["suppressed"],
        digest_due_at=row["digest_due_at"],
        last_page=row["last_page"],
        services=list(row["services"] or []),
    )


async def save_window(conn: AsyncConnection, window: Window) -> None:
    await conn.execute(
        throttle.update()
        .where(throttle.c.key == window.key, throttle.c.budget == window.budget.value)
        .values(
            window_start=window.window_start,
            sent_in_window=window.sent_in_window,
            suppressed=window.suppressed,
            digest_due_at=window.digest_due_at,
            last_page=window.last_page,
            services=window.services,
        )
    )


async def due_digest_windows(conn: AsyncConnection, now: datetime, limit: int) -> list[tuple[str, Budget]]:
    """Windows whose digest is due, locked; replicas skip each other's rows."""
    query = (
        select(throttle.c.key, throttle.c.budget)
        .where(throttle.c.digest_due_at <= now, throttle.c.suppressed > 0)
        .order_by(throttle.c.digest_due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [(key, Budget(budget)) for key, budget in (await conn.execute(query)).all()]
