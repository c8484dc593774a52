"""A router that stops publishes the pages committed while it stopped.

SIGTERM lets a consumer finish and commit its batch in hand, a timer pass finish, and an HTTP request in hand (an
escalation asked for) be answered; their pages are handed to the outbox publisher, whose loop had already ended at
the stop. Nothing published them then: they waited for another process's poller or for this one's restart (a
single replica stopped for an upgrade paged nobody until its successor was up).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg

from alertrouter_router import work
from alertrouter_router.db import snapshot_reads
from alertrouter_router.db.pool import connect_arguments
from alertrouter_router.runtime import RouterRuntime
from alertrouter_shared.clock import OffsetClock
from tests.helpers import TopicReader, eventually
from tests.router.conftest import alert_event, pages_for, router_settings


async def test_pages_committed_while_the_router_stops_are_published_before_it_exits(
    kafka_bootstrap: str, router_database_url: str, router_clock: OffsetClock, pages: TopicReader, unique: str
) -> None:
    runtime = RouterRuntime(router_settings(kafka_bootstrap, router_database_url), consume=False, clock=router_clock)
    await runtime.start()
    state = runtime.state
    # Far ahead (and apart from other tests' far-future instants), so no running router's poller takes these.
    at = router_clock.now().replace(microsecond=0) + timedelta(days=6000, minutes=int(unique[:4], 16))
    key = f"am:test-am:{unique}"
    runtime.stop()
    outbox = next(task for task in runtime.tasks if task.get_name() == "outbox")
    await asyncio.wait_for(outbox, 30)  # the publisher's loop has ended

    # The batch in hand at the stop commits now, and hands its pages over, as the consumer's does.
    event = alert_event(key, {"service": "checkout"}, occurred_at=at, received_at=at)
    async with state.pool.acquire() as conn, conn.transaction():
        snapshot, maintenance = await snapshot_reads.for_events(conn, [event], state.configs.current, at)
        effects, recorded = await work.run_unit(
            conn, [event], snapshot, maintenance, state.configs.current, at, state.rules
        )
    work.after_commit(effects, recorded, at, state.publisher)
    due = {p.page_id for p in effects.pages if p.send_at <= at}
    assert due
    await asyncio.wait_for(runtime.wait(), 30)
    conn = await asyncpg.connect(**connect_arguments(router_database_url))  # the runtime's pool is closed by now
    try:
        marked = await conn.fetch(
            "SELECT page_id FROM router_outbox WHERE page_id = ANY($1::text[]) AND published_at IS NOT NULL",
            list(due),
        )
    finally:
        await conn.close()
    assert {r["page_id"] for r in marked} == due

    async def on_the_topic() -> bool:
        return due <= {p.page_id for p in pages_for(pages, key)}

    await eventually(on_the_topic, what="the pages on the pages topic")
