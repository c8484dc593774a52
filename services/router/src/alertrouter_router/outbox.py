"""Transactional outbox: pages are written with the state change that caused them, published after commit.

A page row is published once its ``send_at`` has come (notification-rule delays are held here, so an
acknowledgement can still cancel them). If the process dies between commit and publish, the next publisher
pass — in this replica after restart, or in another — publishes it with the same deterministic page id, and
the notifier drops the repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

from aiokafka import AIOKafkaProducer
from prometheus_client import Counter, Gauge
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from alertrouter_router.db.tables import outbox
from alertrouter_shared.clock import Clock
from alertrouter_shared.kafka import produce_all
from alertrouter_shared.logging import get_logger
from alertrouter_shared.topics import PAGES

log = get_logger(__name__)

PAGES_PUBLISHED = Counter("alertrouter_router_pages_published_total", "Pages published to the pages topic")
PUBLISH_FAILURES = Counter("alertrouter_router_outbox_publish_failures_total", "Outbox publish passes that failed")
OUTBOX_PENDING = Gauge("alertrouter_router_outbox_due_pages", "Due pages not yet published at the last pass")


async def publish_due(engine: AsyncEngine, producer: AIOKafkaProducer, now: datetime, limit: int = 500) -> int:
    """Publish one batch of due pages; rows are claimed with SKIP LOCKED so replicas never publish twice at once."""
    async with engine.begin() as conn:
        rows = (
            await conn.execute(
                select(outbox.c.page_id, outbox.c.incident_id, outbox.c.payload)
                .where(outbox.c.published_at.is_(None), outbox.c.send_at <= now)
                .order_by(outbox.c.send_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        OUTBOX_PENDING.set(len(rows))
        if not rows:
            return 0
        records = [(PAGES, r.incident_id.encode(), r.payload.encode()) for r in rows]
        await produce_all(producer, records, timeout=10)
        await conn.execute(
            update(outbox).where(outbox.c.page_id.in_([r.page_id for r in rows])).values(published_at=now)
        )
    PAGES_PUBLISHED.inc(len(rows))
    return len(rows)


class OutboxPublisher:
    """Publishes right after each consumer batch (kick) and on a short period for delayed and leftover pages."""

    def __init__(self, engine: AsyncEngine, producer: AIOKafkaProducer, clock: Clock, period: float) -> None:
        self.engine = engine
        self.producer = producer
        self.clock = clock
        self.period = period
        self._kick = asyncio.Event()
        self._last_error: str | None = None

    def kick(self) -> None:
        self._kick.set()

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                while await publish_due(self.engine, self.producer, self.clock.now()) > 0:
                    pass
                self._last_error = None
            except Exception as exc:
                PUBLISH_FAILURES.inc()
                if str(exc) != self._last_error:  # log when the error changes, count every time
                    log.warning("outbox_publish_failed", error=str(exc))
                self._last_error = str(exc)
            self._kick.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), timeout=self.period)
