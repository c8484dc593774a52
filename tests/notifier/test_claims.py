"""A claimed delivery whose stored page this notifier cannot decode holds back none claimed with it (real PostgreSQL).

A claim is one committed statement; the pages are decoded afterwards. One stored by another notifier version (a
page kind this one does not know, during a rolling upgrade or after a rollback) raised out of the claim: every
delivery claimed with it stayed 'sending', unsent, until the lease ran out, and the next claim of the abandoned
ones met it again, each time.
"""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import REGISTRY
from sqlalchemy import select, text

from alertrouter_notifier.db.claims import claim_due
from alertrouter_notifier.db.connections import autocommit
from alertrouter_notifier.db.ledger import insert_deliveries, new_delivery_row
from alertrouter_notifier.db.tables import delivery
from alertrouter_notifier.policy import DeliveryPolicy
from alertrouter_shared.clock import SystemClock
from alertrouter_shared.database import make_engine
from alertrouter_shared.events import ContactMethodType
from tests.notifier.conftest import PageFactory, SettingsFactory

UNDECODABLE = "alertrouter_notifier_undecodable_deliveries_total"


async def test_an_undecodable_page_is_left_claimed_and_the_others_of_its_claim_are_sent(
    make_settings: SettingsFactory, make_page: PageFactory
) -> None:
    settings = make_settings()
    policy = DeliveryPolicy.from_settings(settings)
    engine = make_engine(settings.database_url, 1)
    pages = [make_page(ContactMethodType.WEBHOOK, f"http://receiver.test/hook/{n}") for n in range(3)]
    now = SystemClock().now()
    before = REGISTRY.get_sample_value(UNDECODABLE) or 0.0
    try:
        async with autocommit(engine) as conn:
            rows = await insert_deliveries(conn, [(p, new_delivery_row(p, now, policy)) for p in pages], now)
            ids = [row.id for row in rows]
            future = "jsonb_set(page, '{kind}', '\"a-kind-of-a-later-version\"')"
            await conn.execute(text(f"UPDATE notifier_delivery SET page = {future} WHERE id = :id"), {"id": ids[1]})
            claimed = await claim_due(conn, now, now + timedelta(seconds=60), 10, ids)
            found = await conn.execute(select(delivery.c.id, delivery.c.status).where(delivery.c.id.in_(ids)))
            states = {row.id: row.status for row in found}
    finally:
        await engine.dispose()
    assert sorted(c.id for c in claimed) == sorted([ids[0], ids[2]])
    assert states[ids[1]] == "sending"  # claimed until its lease ends: then a notifier that can decode it takes it
    assert (REGISTRY.get_sample_value(UNDECODABLE) or 0.0) == before + 1
