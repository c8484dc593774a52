"""Transactional outbox: pages are written with the state change that caused them, published after commit.

A page row is published once its ``send_at`` has come (notification-rule delays are held here, so an
acknowledgement can still cancel them). Pages due at once are published from memory right after the commit (the
fast lane) and marked published; the poller takes whatever the fast lane did not. If the process dies between
commit and publish, the next publisher pass — in this replica after restart, or in another — publishes it with
the same deterministic page id, and the notifier drops the repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

import asyncpg
from aiokafka import AIOKafkaProducer
from prometheus_client import Counter, Gauge

from alertrouter_shared.clock import Clock
from alertrouter_shared.events import Page
from alertrouter_shared.kafka import produce_all
from alertrouter_shared.logging import get_logger
from alertrouter_shared.topics import PAGES

log = get_logger(__name__)

PAGES_PUBLISHED = Counter("alertrouter_router_pages_published_total", "Pages published to the pages topic")
PUBLISH_FAILURES = Counter("alertrouter_router_outbox_publish_failures_total", "Outbox publish passes that failed")
OUTBOX_PENDING = Gauge("alertrouter_router_outbox_due_pages", "Due pages not yet published at the last pass")


# Pages due at once are published from memory right after their transaction commits (the fast lane); the poller
# leaves them alone for this long, and publishes them itself only if the fast lane failed or the process died.
FAST_LANE_GRACE = timedelta(seconds=2)


async def publish_due(pool: asyncpg.Pool, producer: AIOKafkaProducer, now: datetime, limit: int = 500) -> int:  # type: ignore[type-arg]
    """Publish one batch of due pages; rows are claimed with SKIP LOCKED so replicas never publish twice at once."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            "SELECT page_id, incident_id, payload FROM router_outbox WHERE published_at IS NULL AND send_at <= $1 "
            "AND (send_at > created_at OR created_at <= $2) ORDER BY send_at LIMIT $3 FOR UPDATE SKIP LOCKED",
            now,
            now - FAST_LANE_GRACE,
            limit,
        )
        OUTBOX_PENDING.set(len(rows))
        if not rows:
            return 0
        records = [(PAGES, r["incident_id"].encode(), r["payload"].encode()) for r in rows]
        await produce_all(producer, records, timeout=10)
        await conn.execute(
            "UPDATE router_outbox SET published_at = $2 WHERE page_id = ANY($1::text[])",
            [r["page_id"] for r in rows],
            now,
        )
    PAGES_PUBLISHED.inc(len(rows))
    return len(rows)


class OutboxPublisher:
    """Publishes pages handed over after a commit at once, and polls for delayed and leftover ones."""

    def __init__(self, pool: asyncpg.Pool, producer: AIOKafkaProducer, clock: Clock, period: float) -> None:  # type: ignore[type-arg]
        self.pool = pool
        self.producer = producer
        self.clock = clock
        self.period = period
        self._kick = asyncio.Event()
        self._fresh: list[Page] = []
        self._last_error: str | None = None

    def hand_over(self, pages: list[Page], now: datetime) -> None:
        """Pages just committed: those due now go out from memory, without reading them back."""
        self._fresh += [p for p in pages if p.send_at <= now]
        self._kick.set()

    async def _publish_fresh(self) -> None:
        """Claim the rows (the poller skips locked ones), produce, mark: a failure rolls the claim back."""
        fresh, self._fresh = self._fresh, []
        if not fresh:
            return
        async with self.pool.acquire() as conn, conn.transaction():
            claimed = await conn.fetch(
                "UPDATE router_outbox SET published_at = $2 WHERE page_id = ANY($1::text[]) AND published_at IS NULL "
                "RETURNING page_id",
                [p.page_id for p in fresh],
                self.clock.now(),
            )
            still = {row["page_id"] for row in claimed}  # not cancelled, not taken by the poller meanwhile
            pages = [p for p in fresh if p.page_id in still]
            records = [(PAGES, p.incident_id.encode(), p.model_dump_json().encode()) for p in pages]
            await produce_all(self.producer, records, timeout=10)
        PAGES_PUBLISHED.inc(len(pages))

    async def run(self, stopping: asyncio.Event) -> None:
        """The fast lane whenever pages are handed over; the poller once per ``period`` (not after every hand-over:
        that was a transaction and a query per alert batch, finding nothing)."""
        loop = asyncio.get_running_loop()
        next_poll = loop.time()
        while not stopping.is_set():
            self._kick.clear()
            try:
                await self._publish_fresh()
                if loop.time() >= next_poll:
                    next_poll = loop.time() + self.period
                    while await publish_due(self.pool, self.producer, self.clock.now()) > 0:
                        pass
                self._last_error = None
            except Exception as exc:
                PUBLISH_FAILURES.inc()
                if str(exc) != self._last_error:  # log when the error changes, count every time
                    log.warning("outbox_publish_failed", error=str(exc))
                self._last_error = str(exc)
            if self._fresh:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), timeout=max(0.0, next_poll - loop.time()))
