"""Outcome writes never wait for the broker: a slow or absent deliveries topic delays the router's view of
results, never the commit of the next outcomes (whose senders hold the send slots until it), so never the pages
waiting for a slot.

Real PostgreSQL and Kafka; the broker is made unable to take the results by publishing to a topic that does not
exist yet (the test cluster never auto-creates topics): aiokafka waits for its metadata, as it would for a broker
that is away. The topic is created afterwards and every result arrives, in order.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import orjson
import structlog
from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from alertrouter_notifier.db.claims import claim_due
from alertrouter_notifier.db.connections import autocommit
from alertrouter_notifier.db.ledger import (
    AttemptRecord,
    Outcome,
    insert_deliveries,
    new_delivery_row,
    store_outcomes,
)
from alertrouter_notifier.db.migrate import upgrade_to_head
from alertrouter_notifier.db.tables import attempt, delivery
from alertrouter_notifier.outcome_writer import OutcomeWriter
from alertrouter_notifier.policy import DeliveryPolicy
from alertrouter_notifier.publisher import SWEEP_BATCH, ResultPublisher
from alertrouter_notifier.runtime import Notifier
from alertrouter_notifier.settings import NotifierSettings
from alertrouter_shared.clock import SystemClock
from alertrouter_shared.database import make_engine
from alertrouter_shared.events import ContactMethodType, DeliveryStatus
from alertrouter_shared.kafka import ensure_topics, make_producer
from alertrouter_shared.topics import TopicSpec
from tests.helpers import DatabaseFactory, TopicReader, eventually
from tests.notifier.conftest import PageFactory, SettingsFactory
from tests.notifier.support import claimed_deliveries, produce_pages, result_publisher
from tests.providers.servers import CaptureServer

# Far longer than the test's own deadline: before this change, the second write waited for the first publish.
PUBLISH_TIMEOUT = 30.0
WRITES_DEADLINE = 5.0


async def test_outcomes_are_committed_while_the_broker_cannot_take_their_results(
    make_settings: SettingsFactory, make_page: PageFactory, kafka_bootstrap: str, unique: str
) -> None:
    late_topic = f"test.notifier.deliveries-late.{unique}"
    settings = make_settings(deliveries_topic=late_topic, publish_timeout_seconds=PUBLISH_TIMEOUT)
    clock = SystemClock()
    async with result_publisher(settings, late_topic) as (engine, publisher):
        writer = OutcomeWriter(engine, publisher, clock)
        reader: TopicReader | None = None
        try:
            pages = [make_page(ContactMethodType.WEBHOOK, f"http://receiver.test/hook/{n}") for n in range(2)]
            claims = await claimed_deliveries(engine, settings, pages, clock.now())
            ids = [claim.id for claim in claims]
            sent = AttemptRecord(DeliveryStatus.SENT, provider="webhook", provider_status_code="200", latency_ms=2.0)

            async with asyncio.timeout(WRITES_DEADLINE):  # one after the other: the second is a separate batch
                for claim in claims:
                    await writer.store(Outcome(claim, sent, None, 0))

            async with engine.connect() as conn:
                statuses = (await conn.execute(select(delivery.c.status).where(delivery.c.id.in_(ids)))).scalars().all()
                marks = (
                    (await conn.execute(select(attempt.c.published_at).where(attempt.c.delivery_id.in_(ids))))
                    .scalars()
                    .all()
                )
            assert sorted(statuses) == ["sent", "sent"]
            assert marks == [None, None], "nothing can have been published: the topic does not exist yet"

            await ensure_topics(settings, [TopicSpec(late_topic, 1, 1)])
            reader = await TopicReader(kafka_bootstrap, late_topic).start()

            async def published() -> list[str] | None:
                got = [orjson.loads(value)["delivery_id"] for value in reader.values]
                return got if len(got) >= len(ids) else None

            assert await eventually(published, timeout=20, what="both results on the topic once it exists") == ids
        finally:
            await writer.drain()
            if reader is not None:
                await reader.stop()


async def test_pages_waiting_for_a_send_slot_go_out_while_the_broker_cannot_take_results(
    make_settings: SettingsFactory, make_page: PageFactory, capture: CaptureServer, kafka_bootstrap: str, unique: str
) -> None:
    """One send slot, three pages: each page after the first waits for the previous outcome to be committed, which
    (before this change) waited for the previous results to be acknowledged by a broker that could not take them."""
    late_topic = f"test.notifier.deliveries-late.{unique}"
    settings = make_settings(
        deliveries_topic=late_topic, publish_timeout_seconds=PUBLISH_TIMEOUT, max_concurrent_sends=1
    )
    pages = [make_page(ContactMethodType.WEBHOOK, f"{capture.url}/hooks/{n}") for n in range(3)]
    async with Notifier(settings):
        await produce_pages(kafka_bootstrap, settings.pages_topic, pages)
        requests = await asyncio.to_thread(capture.wait_for, len(pages), WRITES_DEADLINE)
        assert sorted(r.json()["page"]["page_id"] for r in requests) == sorted(p.page_id for p in pages)

        await ensure_topics(settings, [TopicSpec(late_topic, 1, 1)])
        reader = await TopicReader(kafka_bootstrap, late_topic).start()
        try:

            async def published() -> set[str] | None:
                got = {orjson.loads(value)["page_id"] for value in reader.values}
                return got if len(got) >= len(pages) else None

            got = await eventually(published, timeout=20, what="every result on the topic once it exists")
            assert got == {p.page_id for p in pages}
        finally:
            await reader.stop()


async def test_the_sweep_publishes_an_old_result_while_fresh_ones_wait_for_the_broker(
    make_settings: SettingsFactory, make_page: PageFactory, kafka_bootstrap: str, unique: str
) -> None:
    """Under steady load some fresh result always waits for the broker, and the sweep stood aside whenever one did:
    a result dropped in a broker hiccup (an undelivered page the router escalates on) waited for the load to end."""
    topic = f"test.notifier.deliveries-sweep.{unique}"
    settings = make_settings(deliveries_topic=topic)
    await ensure_topics(settings, [TopicSpec(topic, 1, 1)])
    async with result_publisher(settings, topic) as (engine, publisher):
        reader = await TopicReader(kafka_bootstrap, topic).start()
        try:
            dropped, fresh = (make_page(ContactMethodType.SMS, f"+1201555010{n}") for n in range(2))
            now = SystemClock().now()
            claims = await claimed_deliveries(engine, settings, [dropped, fresh], now)
            undelivered = AttemptRecord(DeliveryStatus.UNDELIVERED, provider="twilio", provider_status_code="30003")
            async with autocommit(engine) as conn:  # stored, never published: the dropped one a minute ago
                stored = await store_outcomes(conn, [Outcome(c, undelivered, None, 0) for c in claims], now, [])
                ids = {c.page.page_id: stored[(c.id, c.attempt)] for c in claims}
                at = now - timedelta(minutes=1)
                await conn.execute(attempt.update().where(attempt.c.id == ids[dropped.page_id]).values(at=at))
            await publisher.publish([ids[fresh.page_id]])  # a fresh result now waits for the broker...
            await publisher.sweep(timedelta(seconds=5))  # ...while the sweep runs

            async def published() -> set[str] | None:
                got = {orjson.loads(value)["page_id"] for value in reader.values}
                return got if dropped.page_id in got else None

            assert dropped.page_id in await eventually(published, timeout=20, what="the dropped result, swept")
        finally:
            await reader.stop()


# -- the outbox sweep after a long broker outage ------------------------------------------------------------------

BACKLOG = 2_000
SWEPT = timedelta(seconds=5)  # the retry worker's OUTBOX_GRACE


async def _backlog(engine: AsyncEngine, settings: NotifierSettings, make_page: PageFactory, count: int) -> list[int]:
    """``count`` results stored a minute ago and never published (the broker was away): their attempt ids."""
    policy = DeliveryPolicy.from_settings(settings)
    pages = [make_page(ContactMethodType.WEBHOOK, f"http://receiver.test/hook/{n}") for n in range(count)]
    now = SystemClock().now()
    sent = AttemptRecord(DeliveryStatus.SENT, provider="webhook", provider_status_code="200", latency_ms=2.0)
    async with autocommit(engine) as conn:
        new = await insert_deliveries(conn, [(p, new_delivery_row(p, now, policy)) for p in pages], now)
        claims = await claim_due(conn, now, now + timedelta(seconds=60), count, [item.id for item in new])
        stored = await store_outcomes(conn, [Outcome(c, sent, None, 0) for c in claims], now)
        ids = sorted(stored.values())
        await conn.execute(attempt.update().where(attempt.c.id.in_(ids)).values(at=now - timedelta(minutes=1)))
    assert len(ids) == count
    return ids


async def _unmarked(engine: AsyncEngine, ids: list[int]) -> int:
    async with engine.connect() as conn:
        query = select(attempt.c.id).where(attempt.c.id.in_(ids), attempt.c.published_at.is_(None))
        return len((await conn.execute(query)).all())


async def _delivery_ids(engine: AsyncEngine, ids: list[int]) -> list[str]:
    """The deliveries of the attempt ids, in attempt id order (the order the sweep publishes them in)."""
    async with engine.connect() as conn:
        query = select(attempt.c.delivery_id).where(attempt.c.id.in_(ids)).order_by(attempt.c.id)
        return list((await conn.execute(query)).scalars().all())


async def test_one_sweep_drains_a_backlog_of_many_batches_in_order_marking_each_once_acknowledged(
    make_settings: SettingsFactory, make_page: PageFactory, kafka_bootstrap: str, unique: str
) -> None:
    """After a long outage the sweep took one batch of 500 per housekeeping pass (every 5 s): 100 results a
    second. One call now drains the backlog, batch after batch, each produced at once and then marked."""
    topic = f"test.notifier.deliveries-backlog.{unique}"
    settings = make_settings(deliveries_topic=topic)
    await ensure_topics(settings, [TopicSpec(topic, 1, 1)])
    async with result_publisher(settings, topic) as (engine, publisher):
        ids = await _backlog(engine, settings, make_page, BACKLOG)
        expected = await _delivery_ids(engine, ids)
        reader = await TopicReader(kafka_bootstrap, topic).start()
        try:
            swept = await publisher.sweep(SWEPT)
            assert await _unmarked(engine, ids) == 0, "all marked by the one call, once the broker acknowledged"
            # the database is shared: rows other tests left unpublished may be swept too
            assert swept >= BACKLOG > 3 * SWEEP_BATCH, "one call, at least four full batches"
            assert await publisher.sweep(SWEPT) < SWEEP_BATCH, "nothing of the backlog is left for a second call"

            mine = set(expected)

            async def published() -> list[str] | None:
                got = [d for d in (orjson.loads(v)["delivery_id"] for v in reader.values) if d in mine]
                return got if len(got) >= len(expected) else None

            got = await eventually(published, timeout=60, what="every swept result on the topic")
            assert got == expected, "published once each, in the order stored"
        finally:
            await reader.stop()


async def test_the_sweep_marks_nothing_the_broker_did_not_acknowledge(
    make_settings: SettingsFactory, make_page: PageFactory, kafka_bootstrap: str, unique: str
) -> None:
    """A broker that cannot take the results: the sweep stops at its first batch and marks none of it; the next
    sweep, once the broker takes them, publishes them all."""
    late_topic = f"test.notifier.deliveries-late.{unique}"
    settings = make_settings(deliveries_topic=late_topic)
    engine = make_engine(settings.database_url, pool_size=2)
    producer = make_producer(settings)
    await producer.start()
    publisher = ResultPublisher(engine, producer, SystemClock(), 1.0, late_topic)
    try:
        ids = await _backlog(engine, settings, make_page, 3 * SWEEP_BATCH // 2)
        assert await publisher.sweep(SWEPT) == 0
        assert await _unmarked(engine, ids) == len(ids)

        await ensure_topics(settings, [TopicSpec(late_topic, 1, 1)])

        async def swept() -> int | None:  # the producer may take a moment to see the new topic
            return await publisher.sweep(SWEPT) or None

        assert await eventually(swept, timeout=30, interval=0.5, what="a sweep the broker takes") >= len(ids)
        assert await _unmarked(engine, ids) == 0
    finally:
        await publisher.close()
        await producer.stop()
        await engine.dispose()


async def test_the_running_notifier_drains_a_backlog_in_one_sweep(
    make_settings: SettingsFactory, make_page: PageFactory
) -> None:
    """In the running notifier: the retry worker starts the sweep in the background, and one sweep drains the whole
    backlog (before, each 5 s pass published one batch of 500)."""
    settings = make_settings()
    engine = make_engine(settings.database_url, pool_size=2)
    try:
        ids = await _backlog(engine, settings, make_page, BACKLOG)
        with structlog.testing.capture_logs() as logs:
            async with Notifier(settings, consume=False):

                async def marked() -> bool:
                    return await _unmarked(engine, ids) == 0

                await eventually(marked, timeout=60, interval=0.2, what="the backlog published and marked")
        swept = [line["count"] for line in logs if line["event"] == "delivery_results_swept"]
        assert swept and swept[0] >= BACKLOG, f"the first sweep that published drained it all: {swept}"
    finally:
        await engine.dispose()


# -- the outbox gauge ---------------------------------------------------------------------------------------------


def _oldest_unpublished() -> float:
    """The gauge of this process (the notifiers of the tests run in it)."""
    return REGISTRY.get_sample_value("alertrouter_notifier_oldest_unpublished_result_seconds") or 0.0


async def test_a_result_the_broker_cannot_take_ages_in_the_outbox_gauge_until_it_is_published(
    make_settings: SettingsFactory,
    make_page: PageFactory,
    capture: CaptureServer,
    kafka_bootstrap: str,
    databases: DatabaseFactory,
    unique: str,
) -> None:
    """The page is sent, but its result cannot reach the router: the gauge AlertrouterDeliveryResultsNotPublished
    reads grows with the result's age (a database of its own: nothing else unpublished in it), and reads 0 once the
    outbox sweep has published it."""
    url = databases.create()
    await asyncio.to_thread(upgrade_to_head, url, 30)
    late_topic = f"test.notifier.deliveries-late.{unique}"
    settings = make_settings(database_url=url, deliveries_topic=late_topic, publish_timeout_seconds=2.0)
    page = make_page(ContactMethodType.WEBHOOK, f"{capture.url}/hooks/outbox-gauge")
    async with Notifier(settings):
        await produce_pages(kafka_bootstrap, settings.pages_topic, [page])
        await asyncio.to_thread(capture.wait_for, 1, WRITES_DEADLINE)
        sent = time.monotonic()

        async def older_than(seconds: float) -> float | None:
            """A reading no older than the page's send: not a value a past test's notifier left in the gauge."""
            value = _oldest_unpublished()
            return value if seconds < value <= time.monotonic() - sent + 1.0 else None

        first = await eventually(lambda: older_than(2.0), timeout=20, what="the unpublished result in the gauge")
        await eventually(lambda: older_than(first + 3.0), timeout=20, what="the gauge following the result's age")

        await ensure_topics(settings, [TopicSpec(late_topic, 1, 1)])

        async def published() -> bool:
            return _oldest_unpublished() == 0.0

        await eventually(published, timeout=40, interval=0.5, what="the gauge at 0 once the sweep published it")
