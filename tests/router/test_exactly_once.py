"""Redelivery, a crash between commit and publish, and two replicas firing the same escalations."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import httpx
from aiokafka import AIOKafkaProducer

from alertrouter_router import lifecycle
from alertrouter_router.context import EventContext
from alertrouter_router.outbox import publish_due
from alertrouter_router.runtime import RouterRuntime
from alertrouter_shared.clock import OffsetClock
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
    async with state.engine.begin() as conn:
        ctx = EventContext(conn=conn, config=state.configs.current, now=far_future)
        event = alert_event(key, {"service": "checkout"}, occurred_at=far_future, received_at=far_future)
        decision = await lifecycle.process_event(ctx, event, state.settings.max_event_age_seconds)
        await ctx.writes.flush(conn)
    expected = set(decision.explanation["pages"])
    assert expected, "the decision lists its deterministic page ids"
    # The running publisher will not publish pages due ten years from now; a restarted one at that time will.
    assert pages_for(pages, key) == []
    published = await publish_due(state.engine, state.producer, far_future + timedelta(minutes=5))
    assert published >= len(expected)
    await eventually(lambda: _count(pages, key, len(expected)), what="the republished pages")
    assert {p.page_id for p in pages_for(pages, key)} == expected
    # A second pass publishes nothing again.
    assert await publish_due(state.engine, state.producer, far_future + timedelta(minutes=5)) == 0


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
    """Pages and steps are buffered per batch; an acknowledgement later in the same batch must still cancel them."""
    from sqlalchemy import func, select

    from alertrouter_router.db.tables import escalation_step, outbox
    from alertrouter_router.writes import PendingWrites
    from alertrouter_shared.events import AlertAction

    state = router.state
    key = f"am:test-am:{unique}"
    future = router_clock.now() + timedelta(days=3650)  # far ahead, so the running publisher leaves these alone
    writes = PendingWrites()
    async with state.engine.begin() as conn:
        for action in (AlertAction.TRIGGER, AlertAction.ACKNOWLEDGE):
            ctx = EventContext(conn=conn, config=state.configs.current, now=future, writes=writes)
            event = alert_event(key, {"service": "checkout"}, action, occurred_at=future, received_at=future)
            decision = await lifecycle.process_event(ctx, event, state.settings.max_event_age_seconds)
        await writes.flush(conn)
        incident_id = decision.incident_id
        assert incident_id is not None
        unpublished = await conn.scalar(
            select(func.count()).select_from(outbox).where(outbox.c.incident_id == incident_id)
        )
        pending = await conn.scalar(
            select(func.count())
            .select_from(escalation_step)
            .where(escalation_step.c.incident_id == incident_id, escalation_step.c.status == "pending")
        )
    assert (decision.outcome, unpublished, pending) == ("acknowledged", 0, 0)


async def test_one_batch_sees_each_keys_state_as_it_changes(
    router: RouterRuntime, router_clock: OffsetClock, unique: str
) -> None:
    """The batch reads every key's current incident once, up front (locked); events after the first of a key
    must see what the earlier ones did: trigger, repeat, resolve and a new episode of one key in one batch."""
    from alertrouter_router.incidents import CurrentIncidents
    from alertrouter_router.writes import PendingWrites
    from alertrouter_shared.events import AlertAction

    state = router.state
    key, other = f"am:test-am:{unique}", f"am:test-am:{unique}-other"
    at = router_clock.now() + timedelta(days=3650)  # far ahead, so the running publisher leaves these alone

    async def run_batch(events: list[tuple[str, AlertAction, datetime]]) -> list[tuple[str, str | None]]:
        writes, current = PendingWrites(), CurrentIncidents()
        async with state.engine.begin() as conn:
            await current.prefetch(conn, {k for k, _, _ in events})
            outcomes = []
            for k, action, when in events:
                ctx = EventContext(conn=conn, config=state.configs.current, now=when, writes=writes, incidents=current)
                event = alert_event(k, {"service": "checkout"}, action, occurred_at=when, received_at=when)
                decision = await lifecycle.process_event(ctx, event, state.settings.max_event_age_seconds)
                outcomes.append((str(decision.outcome), decision.incident_id))
            await writes.flush(conn)
        return outcomes

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
