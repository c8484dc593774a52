"""Claims of deliveries for sending, on real PostgreSQL: what a claim took is sent, whatever else happened to it.

A claim is one committed statement, and the pages are decoded afterwards: one stored by another notifier version
(a page kind this one does not know, during a rolling upgrade or after a rollback) raised out of the claim, and
every delivery claimed with it stayed 'sending', unsent, until the lease ran out (and the next claim of the
abandoned ones met it again, each time). A claim whose commit was in doubt left what it took the same way.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import REGISTRY
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert

from alertrouter_notifier.db.claims import claim_due
from alertrouter_notifier.db.connections import autocommit
from alertrouter_notifier.db.ledger import insert_deliveries, new_delivery_row
from alertrouter_notifier.db.tables import delivery, throttle
from alertrouter_notifier.digests import flush_due_digests
from alertrouter_notifier.policy import DeliveryPolicy
from alertrouter_notifier.runtime import Notifier
from alertrouter_shared.clock import SystemClock
from alertrouter_shared.database import make_engine
from alertrouter_shared.events import ContactMethodType
from tests.helpers import eventually
from tests.notifier.commit_cutter import UPDATED_ONE, CommitCutter
from tests.notifier.conftest import PageFactory, SettingsFactory
from tests.notifier.support import api_client, deliveries_for, final_delivery, produce_pages
from tests.providers.servers import CaptureServer

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


async def test_a_flood_window_whose_held_page_is_undecodable_holds_back_no_other_digest(
    make_settings: SettingsFactory, make_page: PageFactory, unique: str
) -> None:
    """The digest is built from the window's last held page: one held by a later version failed the whole pass, so
    no destination got its digest, every pass. That window now waits, unchanged, for a notifier that can read it."""
    settings = make_settings()
    policy = DeliveryPolicy.from_settings(settings)
    engine = make_engine(settings.database_url, 1)
    now = SystemClock().now()
    good, bad = f"good-{unique}", f"bad-{unique}"
    held = make_page(ContactMethodType.WEBHOOK, "http://receiver.test/hook").model_dump(mode="json")
    before = REGISTRY.get_sample_value(UNDECODABLE) or 0.0
    try:
        async with autocommit(engine) as conn:
            for key, page in ((bad, held | {"kind": "a-kind-of-a-later-version"}), (good, held)):
                await conn.execute(
                    insert(throttle).values(
                        key=key,
                        channel="webhook",
                        window_start=now - timedelta(minutes=2),
                        sent_in_window=3,
                        suppressed=5,
                        digest_due_at=now - timedelta(minutes=1, seconds=1 if key == bad else 0),  # bad: first
                        last_page=page,
                        services=["checkout"],
                    )
                )
            created = await flush_due_digests(conn, now, policy)
            windows = {
                row.key: (row.suppressed, row.digest_due_at)
                for row in await conn.execute(select(throttle).where(throttle.c.key.in_([good, bad])))
            }
    finally:
        await engine.dispose()
    assert len(created) == 1  # the good window's digest
    assert windows[good] == (0, None)
    assert windows[bad] == (5, now - timedelta(minutes=1, seconds=1))  # still due, its 5 held pages still counted
    assert (REGISTRY.get_sample_value(UNDECODABLE) or 0.0) == before + 1


async def test_a_claim_whose_commit_was_in_doubt_sends_what_it_took_at_once(
    make_settings: SettingsFactory, make_page: PageFactory, capture: CaptureServer
) -> None:
    """The connection lost after the server committed the claim of a due page, before its answer: the claim took
    the page ('sending', under its lease) and its sender never heard so; the page waited out the lease (two
    minutes) unsent. The sender now reads back what its claim took and sends it."""
    base = make_settings()
    page = make_page(ContactMethodType.WEBHOOK, f"{capture.url}/hook", send_at=datetime.now(UTC) + timedelta(seconds=3))
    async with CommitCutter(base.database_url) as cutter:
        settings = base.model_copy(update={"database_url": cutter.url})
        async with Notifier(settings) as notifier, api_client(notifier) as client:
            await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [page])

            async def scheduled() -> list[dict[str, Any]]:
                return await deliveries_for(client, page=page.page_id)

            (waiting,) = await eventually(scheduled, what="the scheduled page admitted")
            assert waiting["status"] == "pending"
            cutter.arm(UPDATED_ONE)  # the claim of the page once due: the only statement that updates one row
            await asyncio.wait_for(cutter.cut.wait(), 20)
            delivery = await final_delivery(client, page.page_id, timeout=20)
    assert delivery["status"] == "sent"
    assert delivery["attempt_count"] == 1  # sent by the claim that took it
    assert [p["page"]["page_id"] for p in capture.pages()].count(page.page_id) == 1
