"""One outcome the database refuses does not take the others of its batch down with it.

Outcomes of concurrent sends are written in one statement; when that statement was refused for one of them, every
sender of the batch saw the failure, no outcome was stored, and each of those pages was sent again when its lease
ran out. No outcome of ours is known to be refused today (a NUL in a receiver's answer was, until it was replaced),
so a trigger of the test's database refuses one, as the dead-letter test of the admissions does.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from alertrouter_notifier.db.ledger import AttemptRecord, Outcome
from alertrouter_notifier.db.tables import delivery
from alertrouter_notifier.outcome_writer import OutcomeWriter
from alertrouter_shared.clock import SystemClock
from alertrouter_shared.events import ContactMethodType, DeliveryStatus
from tests.notifier.conftest import PageFactory, SettingsFactory
from tests.notifier.support import claimed_deliveries, refusing, result_publisher


async def test_an_outcome_the_database_refuses_fails_alone_and_the_rest_of_its_batch_is_stored(
    make_settings: SettingsFactory, make_page: PageFactory, unique: str
) -> None:
    settings = make_settings()
    poison = f"refused-by-the-test-{unique}"
    async with result_publisher(settings, settings.deliveries_topic) as (engine, publisher):
        clock = SystemClock()
        pages = [make_page(ContactMethodType.WEBHOOK, f"http://receiver.test/hook/{n}") for n in range(3)]
        first, refused, last = await claimed_deliveries(engine, settings, pages, clock.now())
        sent = AttemptRecord(DeliveryStatus.SENT, provider="webhook", provider_status_code="200")
        failed = AttemptRecord(DeliveryStatus.FAILED, provider="webhook", error=poison)
        writer = OutcomeWriter(engine, publisher, clock)
        async with refusing(engine, f"refuse_outcome_{unique}", "notifier_attempt", "23514", f"NEW.error = '{poison}'"):
            # Handed over together, before the writer runs: one batch.
            results = await asyncio.gather(
                writer.store(Outcome(first, sent, None, 0)),
                writer.store(Outcome(refused, failed, None, 0)),
                writer.store(Outcome(last, sent, None, 0)),
                return_exceptions=True,
            )
            await writer.drain()
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(delivery.c.id, delivery.c.status).where(
                    delivery.c.id.in_([c.id for c in (first, refused, last)])
                )
            )
            statuses = {row.id: row.status for row in rows}
    assert results[0] is None and results[2] is None, results
    with pytest.raises(IntegrityError):
        raise results[1]  # type: ignore[misc]
    assert statuses == {first.id: "sent", refused.id: "sending", last.id: "sent"}
