"""Deliveries past NOTIFIER_RETENTION_DAYS are deleted with their attempts; none in flight, none whose result the
router has not been sent yet, none newer. On a database of the test's own, written by the notifier's own intake
and outcome statements."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import text

from alertrouter_notifier.db.ledger import AttemptRecord, Outcome, store_outcomes
from alertrouter_notifier.db.migrate import upgrade_to_head
from alertrouter_notifier.db.retention import prune_deliveries
from alertrouter_notifier.intake import admit_pages
from alertrouter_notifier.policy import DeliveryPolicy
from alertrouter_notifier.settings import NotifierSettings
from alertrouter_shared.database import make_engine
from alertrouter_shared.events import ContactMethodType, DeliveryStatus
from tests.helpers import DatabaseFactory
from tests.notifier.conftest import PageFactory, SettingsFactory

SENT = AttemptRecord(DeliveryStatus.SENT, provider="webhook", provider_status_code="200", latency_ms=3.0)


async def test_deliveries_over_before_the_retention_go_and_no_other(
    databases: DatabaseFactory, make_settings: SettingsFactory, make_page: PageFactory
) -> None:
    url = databases.create()
    await asyncio.to_thread(upgrade_to_head, url, 30)
    policy = DeliveryPolicy.from_settings(make_settings(database_url=url))
    engine = make_engine(url, pool_size=1)
    try:
        pages = [make_page(ContactMethodType.WEBHOOK, f"http://receiver.test/hook/{n}") for n in range(4)]
        then = max(p.send_at for p in pages)
        later = then + timedelta(days=40)
        async with engine.begin() as conn:
            old_done, old_unpublished, in_flight, recent = (
                await admit_pages(conn, pages, then, policy, send_slots=len(pages))
            ).claimed
        async with engine.begin() as conn:  # each result published by the batch after it, as the dispatcher does
            first = await store_outcomes(conn, [Outcome(old_done, SENT, None, 0)], then)
            second = await store_outcomes(conn, [Outcome(recent, SENT, None, 0)], later, list(first.values()))
            await store_outcomes(conn, [Outcome(old_unpublished, SENT, None, 0)], then, list(second.values()))

        cutoff = then + timedelta(days=30)
        assert await prune_deliveries(engine, cutoff, 1000) == 1
        assert await prune_deliveries(engine, cutoff, 1000) == 0
        async with engine.connect() as conn:
            kept = set((await conn.execute(text("SELECT id FROM notifier_delivery"))).scalars())
            attempts = set((await conn.execute(text("SELECT delivery_id FROM notifier_attempt"))).scalars())
        assert kept == {old_unpublished.id, in_flight.id, recent.id}
        assert attempts == {old_unpublished.id, recent.id}  # the pruned one's attempt went with it
    finally:
        await engine.dispose()


@pytest.mark.parametrize(("days", "accepted"), [(0, True), (29, False), (30, True), (400, True)])
def test_a_retention_is_none_or_longer_than_kafka_keeps_a_page(days: int, accepted: bool) -> None:
    if accepted:
        assert NotifierSettings(retention_days=days).retention_days == days
    else:
        with pytest.raises(ValueError, match="at least 30 days"):
            NotifierSettings(retention_days=days)
