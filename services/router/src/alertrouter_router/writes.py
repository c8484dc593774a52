"""Writes buffered for one transaction and sent as a few multi-row statements instead of one per event.

Decisions, pages and escalation steps are only inserted, never read back within the same unit of work, so a
consumer batch can collect them and flush once. Anything that must see them (cancelling an incident's pending
pages and steps) flushes first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from alertrouter_router import decisions, escalation, outbox
from alertrouter_router.decisions import Decision
from alertrouter_shared.events import Page
from alertrouter_shared.logging import get_logger

log = get_logger(__name__)


@dataclass
class PendingWrites:
    decisions: list[tuple[Decision, datetime, bool]] = field(default_factory=list)
    pages: list[Page] = field(default_factory=list)
    steps: list[escalation.Step] = field(default_factory=list)

    def decide(self, item: Decision, at: datetime, *, count: bool = True) -> None:
        self.decisions.append((item, at, count))

    async def flush(self, conn: AsyncConnection) -> list[Decision]:
        """Insert everything buffered; returns the decisions that were new (not already recorded)."""
        pending, self.decisions = self.decisions, []
        pages, self.pages = self.pages, []
        steps, self.steps = self.steps, []
        await outbox.add_pages(conn, pages)
        await escalation.schedule_many(conn, steps)
        inserted = await decisions.record_many(conn, pending)
        return [item for item, _, _ in pending if item.id in inserted]

    async def flush_and_log(self, conn: AsyncConnection) -> None:
        for item in await self.flush(conn):
            log.info(
                "decision",
                decision_id=item.id,
                incident_id=item.incident_id,
                dedup_key=item.dedup_key,
                outcome=item.outcome.value,
                service=item.service_id,
                reason=item.reason,
            )
