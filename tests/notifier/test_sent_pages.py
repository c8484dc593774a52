"""What the answers read of the pages sent to a person (``db/sent_pages.py``), on real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from alertrouter_notifier.db.connections import autocommit
from alertrouter_notifier.db.ledger import insert_deliveries, new_delivery_row
from alertrouter_notifier.db.sent_pages import triggers_to
from alertrouter_notifier.policy import DeliveryPolicy
from alertrouter_shared.clock import SystemClock
from alertrouter_shared.database import make_engine
from alertrouter_shared.events import ContactMethodType
from tests.notifier.conftest import PageFactory, SettingsFactory


async def test_a_page_s_time_for_bare_replies_is_when_it_was_sent_not_queued(
    make_settings: SettingsFactory, make_page: PageFactory
) -> None:
    """A page retried for minutes (Twilio throttling) counted from its queueing: earlier than a page sent meanwhile,
    it was not taken for one a bare "1" may mean, and the "1" acknowledged the other (the window's own rule)."""
    settings = make_settings()
    policy = DeliveryPolicy.from_settings(settings)
    engine = make_engine(settings.database_url, 1)
    address = "+12015550177"
    retried, prompt = (make_page(ContactMethodType.SMS, address) for _ in range(2))
    now = SystemClock().now()
    try:
        async with autocommit(engine) as conn:
            rows = await insert_deliveries(
                conn, [(p, new_delivery_row(p, now, policy)) for p in (retried, prompt)], now
            )
            times = {rows[0].id: now + timedelta(minutes=9), rows[1].id: now + timedelta(minutes=5)}
            for delivery_id, sent_at in times.items():
                await conn.execute(
                    text("UPDATE notifier_delivery SET status = 'sent', sent_at = :at WHERE id = :id"),
                    {"at": sent_at, "id": delivery_id},
                )
            sent = await triggers_to(conn, address, [ContactMethodType.SMS], now - timedelta(minutes=1))
    finally:
        await engine.dispose()
    assert [(item.page.page_id, item.sent_at) for item in sent] == [
        (retried.page_id, now + timedelta(minutes=9)),
        (prompt.page_id, now + timedelta(minutes=5)),
    ]
