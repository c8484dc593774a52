"""A send's outcome is fenced by its claim: once the lease ran out and another claim took the delivery, the old
sender's outcome writes nothing (neither the row nor an attempt), and the newer claim's outcome is stored -- also
when both arrive in the same batch statement, beside the outcome of another delivery."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from alertrouter_notifier.db.claims import claim_due
from alertrouter_notifier.db.connections import autocommit
from alertrouter_notifier.db.ledger import (
    AttemptRecord,
    Outcome,
    insert_deliveries,
    new_delivery_row,
    store_outcomes,
)
from alertrouter_notifier.db.tables import attempt, delivery
from alertrouter_notifier.policy import DeliveryPolicy
from alertrouter_shared.database import make_engine
from alertrouter_shared.events import ContactMethodType, DeliveryStatus
from tests.notifier.conftest import PageFactory, SettingsFactory


async def test_a_stale_claim_cannot_record_over_a_newer_one(
    make_settings: SettingsFactory, make_page: PageFactory
) -> None:
    settings = make_settings()
    policy = DeliveryPolicy.from_settings(settings)
    page = make_page(ContactMethodType.WEBHOOK, "http://receiver.test/hook")
    other_page = make_page(ContactMethodType.SMS, "+12025550100")
    engine = make_engine(settings.database_url, pool_size=2)
    try:
        now = page.send_at
        async with engine.begin() as conn:
            rows = [(p, new_delivery_row(p, now, policy)) for p in (page, other_page)]
            [new, other] = await insert_deliveries(conn, rows, now)
        lease = timedelta(seconds=30)
        async with engine.begin() as conn:
            [first] = await claim_due(conn, now, now + lease, 10, [new.id])
        later = now + lease + timedelta(seconds=1)  # the first sender stalled past its lease
        async with engine.begin() as conn:
            [second, other_claim] = sorted(
                await claim_due(conn, later, later + lease, 10, [new.id, other.id]), key=lambda c: c.id != new.id
            )
        assert (first.attempt, second.attempt) == (1, 2)

        sent = AttemptRecord(DeliveryStatus.SENT, provider="webhook", provider_status_code="200", latency_ms=3.0)
        retry = AttemptRecord(DeliveryStatus.RETRYING, provider="webhook", error="HTTP 503")
        other_sent = AttemptRecord(DeliveryStatus.SENT, provider="twilio", provider_message_id="SM1", latency_ms=9.0)
        batch = [
            Outcome(first, sent, None, 0),
            Outcome(second, retry, later + timedelta(seconds=5), 0),
            Outcome(other_claim, other_sent, None, 0),
        ]
        async with autocommit(engine) as conn:
            stored = await store_outcomes(conn, batch, later)
        assert set(stored) == {(new.id, 2), (other.id, 1)}  # the stale claim (attempt 1) wrote nothing
        attempt_id = stored[(new.id, 2)]
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
        async with engine.connect() as conn:
            done = (await conn.execute(select(delivery).where(delivery.c.id == other.id))).one()
        assert (done.status, done.provider, done.provider_message_id, done.sent_at) == ("sent", "twilio", "SM1", later)
    finally:
        await engine.dispose()


async def test_an_outcome_write_carries_the_published_marks_of_earlier_results(
    make_settings: SettingsFactory, make_page: PageFactory
) -> None:
    settings = make_settings()
    policy = DeliveryPolicy.from_settings(settings)
    page = make_page(ContactMethodType.WEBHOOK, "http://receiver.test/hook")
    engine = make_engine(settings.database_url, pool_size=2)
    try:
        now = page.send_at
        ran_out = now + policy.send_lease + timedelta(seconds=1)  # the claim made by the insert ran out
        lease = timedelta(seconds=30)
        retry = AttemptRecord(DeliveryStatus.RETRYING, provider="webhook", error="HTTP 503")
        sent = AttemptRecord(DeliveryStatus.SENT, provider="webhook", provider_status_code="200")
        async with autocommit(engine) as conn:
            [new] = await insert_deliveries(conn, [(page, new_delivery_row(page, now, policy, claim=True))], now)
            [first] = await claim_due(conn, ran_out, ran_out + lease, 10, [new.id])
            stored = await store_outcomes(conn, [Outcome(first, retry, ran_out, 0)], ran_out)
            [second] = await claim_due(conn, ran_out, ran_out + lease, 10, [new.id])
            later = ran_out + timedelta(seconds=1)
            again = await store_outcomes(conn, [Outcome(second, sent, None, 0)], later, published=list(stored.values()))
            marks = dict(
                (
                    await conn.execute(
                        select(attempt.c.attempt, attempt.c.published_at).where(attempt.c.delivery_id == new.id)
                    )
                ).all()
            )
        assert (first.attempt, second.attempt) == (2, 3)  # claimed at its insert (1), then twice by the dispatcher
        assert set(again) == {(new.id, 3)}
        assert marks == {2: later, 3: None}  # the earlier result is marked by the later write; its own is not yet
    finally:
        await engine.dispose()
