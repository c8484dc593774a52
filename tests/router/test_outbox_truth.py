"""The outbox says what was published: a page the fast lane published to Kafka counts in the on-call report even
when a resolve (or an acknowledgement) deleted its row before the lane marked it.

A resolve cancels an incident's pages not yet marked published (``DELETE … WHERE published_at IS NULL``). The
poller cannot lose one that way (it holds the row's lock from reading it to marking it), but the fast lane
publishes from memory after the commit and marks afterwards: a resolve between the commit and the mark deleted a
page that went to Kafka all the same (the person was paged, and was sent the "resolved" notice for it), and the
report, which counts published rows, never counted it.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer

from alertrouter_router.db import snapshot_reads
from alertrouter_router.decisions.decide import ManualAction
from alertrouter_router.decisions.maintenance import Maintenance
from alertrouter_router.outbox import OutboxPublisher
from alertrouter_router.runtime import RouterRuntime
from alertrouter_router.work import run_unit
from alertrouter_shared.clock import OffsetClock
from alertrouter_shared.events import Page, PageKind
from tests.helpers import TopicReader, eventually
from tests.router.conftest import alert_event, pages_for


async def _open(router: RouterRuntime, key: str, at: datetime) -> list[Page]:
    """An alert of checkout decided and committed at ``at``: alice's webhook page due at once, her SMS in 2 min."""
    state = router.state
    event = alert_event(key, {"service": "checkout"}, occurred_at=at, received_at=at)
    async with state.pool.acquire() as conn, conn.transaction():
        snapshot, maintenance = await snapshot_reads.for_events(conn, [event], state.configs.current, at)
        effects, _ = await run_unit(conn, [event], snapshot, maintenance, state.configs.current, at, state.rules)
    return effects.pages


async def _resolve(router: RouterRuntime, conn: Any, incident_id: str, at: datetime) -> list[Page]:
    """A person's resolve, as the API runs it, in the caller's transaction."""
    state = router.state
    snapshot = await snapshot_reads.for_incident(conn, incident_id)
    action = ManualAction(incident_id, "resolve", "bob")
    effects, _ = await run_unit(conn, [action], snapshot, Maintenance(), state.configs.current, at, state.rules)
    return effects.pages


async def _row(pool: asyncpg.Pool, page_id: str) -> dict[str, Any] | None:  # type: ignore[type-arg]
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT published_at, payload FROM router_outbox WHERE page_id = $1", page_id)
    return dict(row) if row else None


async def test_a_page_published_by_the_fast_lane_after_a_resolve_deleted_its_row_is_counted(
    router: RouterRuntime,
    api: httpx.AsyncClient,
    pages: TopicReader,
    router_clock: OffsetClock,
    kafka_bootstrap: str,
    unique: str,
) -> None:
    state = router.state
    # Far ahead (and apart from other tests' far-future instants), so the running router's publisher and the
    # report window see only these pages.
    at = router_clock.now().replace(microsecond=0) + timedelta(days=4000, minutes=int(unique[:4], 16))
    before_lane = f"am:test-am:{unique}-before"  # resolve committed before the lane's pass
    during_mark = f"am:test-am:{unique}-during"  # resolve committing while the lane waits to mark
    first = await _open(router, before_lane, at)
    second = await _open(router, during_mark, at)
    hook_1, sms_1 = (next(p for p in first if p.contact_method.id == m) for m in ("alice-hook", "alice-sms"))
    hook_2 = next(p for p in second if p.contact_method.id == "alice-hook")
    assert hook_1.send_at == at and sms_1.send_at == at + timedelta(minutes=2)

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    # Its poller's clock is far back: it finds nothing due, so only the fast lane publishes here.
    publisher = OutboxPublisher(state.pool, producer, OffsetClock(timedelta(days=-3650)), 3600, state.configs)
    stopping = asyncio.Event()
    lane = asyncio.create_task(publisher.run(stopping))
    holder = await state.pool.acquire()  # the pool's connections decode jsonb as the router reads it
    try:
        # 1. The resolve commits first; the lane's pass comes after (it waited behind the poller, or for a slot).
        async with state.pool.acquire() as conn, conn.transaction():
            notices = await _resolve(router, conn, hook_1.incident_id, at + timedelta(seconds=1))
        assert [(n.kind, n.contact_method.id) for n in notices] == [(PageKind.RESOLVED, "alice-hook")]
        assert await _row(state.pool, hook_1.page_id) is None  # deleted with the held SMS
        publisher.hand_over([hook_1], at)

        # 2. The resolve deletes the row while the lane has the page on its way: the mark waits for the resolve.
        transaction = holder.transaction()
        await transaction.start()
        await _resolve(router, holder, hook_2.incident_id, at + timedelta(seconds=1))
        publisher.hand_over([hook_2], at)

        async def on_the_topic() -> bool:
            return bool(pages_for(pages, before_lane)) and bool(pages_for(pages, during_mark))

        await eventually(on_the_topic, what="both pages published to Kafka")  # the person was paged, twice
        await asyncio.sleep(0.3)  # the lane's mark is waiting for the resolve's row lock
        await transaction.commit()

        async def marked() -> bool:
            rows = [await _row(state.pool, p.page_id) for p in (hook_1, hook_2)]
            return all(r is not None and r["published_at"] is not None for r in rows)

        await eventually(marked, what="both published pages recorded as published")
        for page in (hook_1, hook_2):
            row = await _row(state.pool, page.page_id)
            assert row is not None and Page.model_validate_json(row["payload"]) == page
        assert await _row(state.pool, sms_1.page_id) is None  # the held SMS stays cancelled: nobody got it
        assert [p.page_id for p in pages_for(pages, before_lane)] == [hook_1.page_id]
    finally:
        await state.pool.release(holder)
        stopping.set()
        publisher.hand_over([], at)
        await asyncio.wait_for(lane, 30)
        await producer.stop()

    window = {"since": (at - timedelta(minutes=1)).isoformat(), "until": (at + timedelta(minutes=1)).isoformat()}
    report = (await api.get("/v1/reports/oncall", params={**window, "team": "payments"})).json()
    people = {p["user"]: p["pages"] for p in report["people"]}
    assert people == {"alice": 2}, report["people"]
