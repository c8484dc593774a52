"""A send's outcome is fenced by its claim: once the lease ran out and another claim took the delivery, the old
sender's outcome writes nothing (neither the row nor an attempt), and the newer claim's outcome is stored."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from alertrouter_notifier.database import autocommit, make_engine
from alertrouter_notifier.ledger import (
    AttemptRecord,
    LeaseLost,
    claim_due,
    insert_deliveries,
    new_delivery_row,
    store_outcome,
)
from alertrouter_notifier.policy import DeliveryPolicy
from alertrouter_notifier.tables import attempt, delivery
from alertrouter_shared.events import ContactMethodType, DeliveryStatus
from tests.notifier.conftest import PageFactory, SettingsFactory


async def test_a_stale_claim_cannot_record_over_a_newer_one(
    make_settings: SettingsFactory, make_page: PageFactory
) -> None:
    settings = make_settings()
    policy = DeliveryPolicy.from_settings(settings)
    page = make_page(ContactMethodType.WEBHOOK, "http://receiver.test/hook")
    engine = make_engine(settings.database_url, pool_size=2)
    try:
        now = page.send_at
        async with engine.begin() as conn:
            [new] = await insert_deliveries(conn, [new_delivery_row(page, now, policy)], now)
        lease = timedelta(seconds=30)
        async with engine.begin() as conn:
            [first] = await claim_due(conn, now, now + lease, 10, [new.id])
        later = now + lease + timedelta(seconds=1)  # the first sender stalled past its lease
        async with engine.begin() as conn:
            [second] = await claim_due(conn, later, later + lease, 10, [new.id])
        assert (first.attempt, second.attempt) == (1, 2)

        sent = AttemptRecord(DeliveryStatus.SENT, provider="webhook", provider_status_code="200", latency_ms=3.0)
        async with autocommit(engine) as conn:
            with pytest.raises(LeaseLost):
                await store_outcome(conn, first, sent, later)
            retry = AttemptRecord(DeliveryStatus.RETRYING, provider="webhook", error="HTTP 503")
            attempt_id = await store_outcome(
                conn, second, retry, later, next_attempt_at=later + timedelta(seconds=5), provider_slot=0
            )
        async with engine.connect() as conn:
            row = (await conn.execute(select(delivery).where(delivery.c.id == new.id))).one()
            attempts = (
                await conn.execute(
                    select(attempt.c.id, attempt.c.attempt, attempt.c.status).where(attempt.c.delivery_id == new.id)
                )
            ).all()
        assert [(a.id, a.attempt, a.status) for a in attempts] == [(attempt_id, 2, "retrying")]
        assert (row.status, row.attempt_count, row.last_error) == ("retrying", 2, "HTTP 503")
        assert row.next_attempt_at == later + timedelta(seconds=5)
        assert row.sent_at is None and row.lease_until is None
    finally:
        await engine.dispose()
