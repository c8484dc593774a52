"""Redelivery, a crash between commit and publish, and two replicas firing the same escalations."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer, ConsumerRecord
from asyncpg.connection import LoggedQuery
from prometheus_client import REGISTRY

from alertrouter_router.db import snapshot_reads
from alertrouter_router.outbox import OutboxPublisher, publish_due
from alertrouter_router.pipeline import process_batch
from alertrouter_router.runtime import RouterRuntime
from alertrouter_router.timeline import handle_delivery_batch
from alertrouter_router.work import run_unit
from alertrouter_shared.clock import OffsetClock
from alertrouter_shared.events import (
    AlertAction,
    AlertSource,
    ContactMethodType,
    DeliveryResult,
    DeliveryStatus,
    heartbeat_dedup_key,
)
from alertrouter_shared.topics import DELIVERIES
from tests.helpers import TopicReader, eventually
from tests.router.conftest import alert_event, pages_for, router_settings, send


async def test_same_record_twice_gives_one_decision_and_one_page(
    router: RouterRuntime, api: httpx.AsyncClient, producer: AIOKafkaProducer, pages: TopicReader, unique: str
) -> None:
    key = f"am:test-am:{unique}"
    event = alert_event(key, {"service": "checkout"})
    await send(producer, event)
    await send(producer, event)  # the very same record (same event id), as Kafka redelivers it
    marker = f"{key}-after"
    await send(producer, alert_event(marker, {"service": "checkout"}))
    await eventually(lambda: _has(pages, marker), what="the marker page, proving both copies were consumed")
    decisions = (await api.get("/v1/decisions", params={"dedup_key": key})).json()["items"]
    assert len(decisions) == 1
    assert len(pages_for(pages, key)) == 1


async def _has(reader: TopicReader, key: str) -> bool:
    return bool(pages_for(reader, key))


async def test_crash_between_commit_and_publish_republishes_same_page_id(
    router: RouterRuntime, pages: TopicReader, router_clock: OffsetClock, unique: str
) -> None:
    """The state change and its pages commit together; publishing is a later step that a restart redoes."""
    state = router.state
    key = f"am:test-am:{unique}"
    # Commit the decision with its outbox rows, as the consumer does, but do not publish: the process "dies" here.
    far_future = router_clock.now() + timedelta(days=3650)
    event = alert_event(key, {"service": "checkout"}, occurred_at=far_future, received_at=far_future)
    effects = await process_batch(state, [event], now=far_future)
    expected = set(effects.decisions[0].explanation["pages"])
    assert expected, "the decision lists its deterministic page ids"
    # The running publisher will not publish pages due ten years from now; a restarted one at that time will.
    assert pages_for(pages, key) == []
    # Other tests' delayed pages are due by then too: pass until nothing is left, as the restarted publisher would.
    later = far_future + timedelta(minutes=5)
    published = 0
    while (count := await publish_due(state.pool, state.producer, later, state.configs.current.config)) > 0:
        published += count
    assert published >= len(expected)
    await eventually(lambda: _count(pages, key, len(expected)), what="the republished pages")
    assert {p.page_id for p in pages_for(pages, key)} == expected
    # Another pass publishes nothing again.
    assert await publish_due(state.pool, state.producer, later, state.configs.current.config) == 0


async def _count(reader: TopicReader, key: str, n: int) -> bool:
    return len(pages_for(reader, key)) >= n


async def test_two_replicas_fire_each_escalation_once(
    router: RouterRuntime,
    api: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    pages: TopicReader,
    router_clock: OffsetClock,
    kafka_bootstrap: str,
    router_database_url: str,
    unique: str,
) -> None:
    settings = router_settings(
        kafka_bootstrap, router_database_url, consumer_group=router.state.settings.consumer_group
    )
    second = RouterRuntime(settings, clock=router_clock)
    await second.start()
    try:
        keys = [f"am:test-am:{unique}-{i}" for i in range(12)]
        for key in keys:
            await send(producer, alert_event(key, {"service": "checkout", "instance": key}))

        async def all_paged() -> bool:
            return all(pages_for(pages, k) for k in keys)

        await eventually(all_paged, timeout=40, what="level-1 pages for every key")
        router_clock.advance(timedelta(minutes=5, seconds=1))

        async def all_escalated() -> bool:
            return all(any(p.escalation_level == 2 for p in pages_for(pages, k)) for k in keys)

        await eventually(all_escalated, timeout=40, what="level-2 pages for every key")
        await asyncio.sleep(0)  # let both replicas' loops run at least once more
        marker = f"am:test-am:{unique}-marker"
        await send(producer, alert_event(marker, {"service": "checkout"}))
        await eventually(lambda: _has(pages, marker), what="marker page")
        for key in keys:
            level_two = [p for p in pages_for(pages, key) if p.escalation_level == 2]
            assert len(level_two) == 1, (key, level_two)
    finally:
        second.stop()
        await asyncio.wait_for(second.wait(), 30)


async def test_trigger_and_acknowledge_in_one_batch_leave_nothing_to_send(
    router: RouterRuntime, router_clock: OffsetClock, unique: str
) -> None:
    """An acknowledgement later in the same batch cancels the pages and steps of the trigger before it."""
    state = router.state
    key = f"am:test-am:{unique}"
    future = router_clock.now() + timedelta(days=3650)  # far ahead, so the running publisher leaves these alone
    batch = [
        alert_event(key, {"service": "checkout"}, action, occurred_at=future, received_at=future)
        for action in (AlertAction.TRIGGER, AlertAction.ACKNOWLEDGE)
    ]
    effects = await process_batch(state, batch, now=future)
    incident_id = effects.decisions[-1].incident_id
    async with state.pool.acquire() as conn:
        unpublished = await conn.fetchval("SELECT count(*) FROM router_outbox WHERE incident_id = $1", incident_id)
        pending = await conn.fetchval(
            "SELECT count(*) FROM router_escalation_step WHERE incident_id = $1 AND status = 'pending'", incident_id
        )
        status = await conn.fetchval("SELECT status FROM router_incident WHERE id = $1", incident_id)
    assert (effects.decisions[-1].outcome, status, unpublished, pending) == ("acknowledged", "acknowledged", 0, 0)


async def test_one_batch_sees_each_keys_state_as_it_changes(
    router: RouterRuntime, router_clock: OffsetClock, unique: str
) -> None:
    """Events after the first of a key in a batch see what the earlier ones did: trigger, repeat, resolve and a
    new episode of one key in one batch, written to PostgreSQL as one statement per table."""
    state = router.state
    key, other = f"am:test-am:{unique}", f"am:test-am:{unique}-other"
    at = router_clock.now() + timedelta(days=3650)  # far ahead, so the running publisher leaves these alone

    async def run_batch(events: list[tuple[str, AlertAction, datetime]]) -> list[tuple[str, str | None]]:
        batch = [
            alert_event(k, {"service": "checkout"}, action, occurred_at=when, received_at=when)
            for k, action, when in events
        ]
        effects = await process_batch(state, batch, now=max(when for _, _, when in events))
        return [(str(d.outcome), d.incident_id) for d in effects.decisions]

    [(opened, before)] = await run_batch([(other, AlertAction.TRIGGER, at)])
    step = timedelta(seconds=1)
    outcomes = await run_batch(
        [
            (key, AlertAction.TRIGGER, at),
            (key, AlertAction.TRIGGER, at + step),
            (other, AlertAction.RESOLVE, at + step),
            (key, AlertAction.RESOLVE, at + 2 * step),
            (key, AlertAction.TRIGGER, at + 3 * step),
        ]
    )
    assert opened == "paged"
    assert [o for o, _ in outcomes] == ["paged", "duplicate", "resolved", "resolved", "paged"]
    first, repeat, other_resolved, resolved, second = (i for _, i in outcomes)
    assert first == repeat == resolved
    assert other_resolved == before
    assert second is not None and second != first
    async with state.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT status, incident_id FROM router_alert WHERE dedup_key = ANY($1::text[]) ORDER BY dedup_key",
            [key, other],
        )
        statuses = await conn.fetch(
            "SELECT id, status FROM router_incident WHERE id = ANY($1::text[])", [first, second, before]
        )
    assert [(r["status"], r["incident_id"]) for r in rows] == [("firing", second), ("resolved", before)]
    assert {r["id"]: r["status"] for r in statuses} == {first: "resolved", second: "triggered", before: "resolved"}


async def test_two_beats_of_one_heartbeat_in_one_batch_are_one_write(
    router: RouterRuntime, router_clock: OffsetClock
) -> None:
    """Both went into one upsert, which PostgreSQL refuses ("cannot affect row a second time"): the whole batch
    failed and was retried one event at a time (a backlog of beats slowed every alert in its polls)."""
    state = router.state
    now = router_clock.now()
    beats = [
        alert_event(
            heartbeat_dedup_key("test-heartbeat"), {"heartbeat": "test-heartbeat"}, AlertAction.RESOLVE
        ).model_copy(update={"source": AlertSource.HEARTBEAT, "integration_id": "test-heartbeat", "event_id": eid})
        for eid in (uuid.uuid4(), uuid.uuid4())
    ]
    try:
        effects = await process_batch(state, beats, now=now)
        assert len(effects.decisions) == 2
        async with state.pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT state, due_at FROM router_heartbeat WHERE integration_id = $1", "test-heartbeat"
            )
        assert row is not None and row["state"] == "ok" and row["due_at"] > now
    finally:  # as it was: monitored since the router's first timer pass, no beat (due a day after that)
        async with state.pool.acquire() as conn:
            await conn.execute("DELETE FROM router_heartbeat WHERE integration_id = 'test-heartbeat'")


async def test_a_batch_of_new_alerts_is_one_read_and_one_write(
    router: RouterRuntime, router_clock: OffsetClock, unique: str
) -> None:
    """The snapshot (alerts, incidents, decided events, maintenance windows) is one statement; incidents, alerts,
    escalation steps, outbox pages and decisions go in one more (data-modifying CTEs); the decisions still point
    at incidents inserted by the same statement, and every row is there."""
    state = router.state
    at = router_clock.now() + timedelta(days=3650)  # far ahead, so the running publisher leaves these alone
    keys = [f"am:test-am:{unique}-{n}" for n in range(3)]
    events = [alert_event(k, {"service": "checkout"}, occurred_at=at, received_at=at) for k in keys]
    queries: list[str] = []

    def logged(record: LoggedQuery) -> None:
        queries.append(record.query)

    async with state.pool.acquire() as conn:
        conn.add_query_logger(logged)
        try:
            async with conn.transaction():
                snapshot, maintenance = await snapshot_reads.for_events(conn, events, state.configs.current, at)
                effects, recorded = await run_unit(
                    conn, events, snapshot, maintenance, state.configs.current, at, state.rules
                )
        finally:
            conn.remove_query_logger(logged)
        incidents = sorted({d.incident_id for d in recorded if d.incident_id})
        counts = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM router_incident WHERE id = ANY($1::text[])) AS incidents, "
            "(SELECT count(*) FROM router_alert WHERE dedup_key = ANY($2::text[])) AS alerts, "
            "(SELECT count(*) FROM router_escalation_step WHERE incident_id = ANY($1::text[])) AS steps, "
            "(SELECT count(*) FROM router_outbox WHERE incident_id = ANY($1::text[])) AS pages, "
            "(SELECT count(*) FROM router_decision WHERE dedup_key = ANY($2::text[])) AS decisions",
            incidents,
            keys,
        )
    # (logged by call_soon, so read once the unit is over; asyncpg's own type introspection, with JIT turned off
    # around it, is not ours)
    statements = [
        q for q in queries if q.rstrip(";") not in ("BEGIN", "COMMIT") and "typeinfo" not in q and "'jit'" not in q
    ]
    assert len(statements) == 2, statements
    assert "FROM router_decision" in statements[0] and "FROM router_maintenance_window" in statements[0]
    assert statements[1].startswith(("INSERT", "WITH")) and "INSERT INTO router_decision" in statements[1]
    assert [d.outcome for d in recorded] == ["paged"] * 3
    assert dict(counts) == {
        "incidents": 3,
        "alerts": 3,
        "steps": len(effects.steps),
        "pages": len(effects.pages),
        "decisions": 3,
    }
    assert effects.steps and effects.pages


async def test_a_fast_lane_pass_kafka_refuses_leaves_its_pages_to_the_poller(
    router: RouterRuntime, router_clock: OffsetClock, kafka_bootstrap: str, unique: str
) -> None:
    """The acknowledgement is awaited after the pass let go of the lane: when the broker refuses the records, the
    page is not marked published (it stays for the poller), the failure is counted, and the lane goes on
    publishing the next pages."""
    state = router.state
    at = router_clock.now() + timedelta(days=3650)  # far ahead, so the running publisher leaves these alone
    event = alert_event(f"am:test-am:{unique}", {"service": "checkout"}, occurred_at=at, received_at=at)
    async with state.pool.acquire() as conn, conn.transaction():
        snapshot, maintenance = await snapshot_reads.for_events(conn, [event], state.configs.current, at)
        effects, _ = await run_unit(conn, [event], snapshot, maintenance, state.configs.current, at, state.rules)
    page = effects.pages[0]
    # More than the broker takes in one message (message.max.bytes, 1 MiB by default); the producer would send it.
    refused = page.model_copy(update={"page_id": f"{page.page_id}:refused", "summary": "x" * 1_100_000})
    async with state.pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO router_outbox (page_id, incident_id, payload, created_at, send_at) "
            "VALUES ($1, $2, $3, $4, $4)",
            refused.page_id,
            refused.incident_id,
            refused.model_dump_json(),
            at,
        )
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, max_request_size=4 * 1024 * 1024, acks="all")
    await producer.start()
    # Its poller's clock is ten years back: it finds nothing due, so only the fast lane publishes here.
    publisher = OutboxPublisher(state.pool, producer, OffsetClock(timedelta(days=-3650)), 3600, state.configs)
    stopping = asyncio.Event()
    lane = asyncio.create_task(publisher.run(stopping))
    failures = REGISTRY.get_sample_value("alertrouter_router_outbox_publish_failures_total") or 0.0
    try:
        publisher.hand_over([refused], at)
        await eventually(
            lambda: _counter_above("alertrouter_router_outbox_publish_failures_total", failures),
            what="the refused pass counted as a failure",
        )
        publisher.hand_over([page], at)
        await eventually(lambda: _published(state.pool, page.page_id), what="the next pass published")
        assert not await _published(state.pool, refused.page_id), "the refused page is left to the poller"
    finally:
        stopping.set()
        publisher.hand_over([], at)
        await asyncio.wait_for(lane, 30)
        await producer.stop()
        async with state.pool.acquire() as conn:  # the poller of later tests must not meet it
            await conn.execute("DELETE FROM router_outbox WHERE page_id = $1", refused.page_id)


async def _counter_above(name: str, before: float) -> bool:
    return (REGISTRY.get_sample_value(name) or 0.0) > before


async def _published(pool: asyncpg.Pool, page_id: str) -> bool:  # type: ignore[type-arg]
    async with pool.acquire() as conn:
        found = await conn.fetchval("SELECT published_at IS NOT NULL FROM router_outbox WHERE page_id = $1", page_id)
    return bool(found)


async def test_a_delivery_result_redelivered_is_one_timeline_entry(router: RouterRuntime, unique: str) -> None:
    """Twice in one batch and once more in the next (a redelivery): one entry per delivery, attempt and status."""
    incident_id = str(uuid.uuid4())
    results = [
        DeliveryResult(
            delivery_id=f"{unique}-d",
            page_id=f"{incident_id}:0:1:alice:alice-hook",
            incident_id=incident_id,
            attempt=attempt,
            channel=ContactMethodType.WEBHOOK,
            destination_masked="hook",
            status=status,
            at=datetime.now(UTC),
        )
        for attempt, status in ((1, DeliveryStatus.RETRYING), (2, DeliveryStatus.SENT))
    ]

    def records(items: list[DeliveryResult]) -> list[ConsumerRecord[bytes, bytes]]:
        return [
            ConsumerRecord(DELIVERIES, 0, n, 0, 0, incident_id.encode(), r.model_dump_json().encode(), None, 0, 0, ())
            for n, r in enumerate(items)
        ]

    await handle_delivery_batch(router.state, records([results[0], results[0], results[1]]))
    await handle_delivery_batch(router.state, records(results))
    async with router.state.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT ref, at, data FROM router_timeline WHERE incident_id = $1 AND kind = 'delivery' ORDER BY ref",
            incident_id,
        )
    assert [row["ref"] for row in rows] == [f"{unique}-d:1:retrying", f"{unique}-d:2:sent"]
    assert [row["at"] for row in rows] == [r.at for r in results]
    assert [DeliveryResult.model_validate(row["data"]) for row in rows] == results
