"""A page Kafka refuses for good does not hold back the other pages of the poller's pass.

The poller publishes what the fast lane did not: pages held by a notification rule's delay, and pages whose fast-lane
pass failed. It took up to 500 due rows, oldest first, and marked none of them when any one was not acknowledged; a
page the producer refuses however often it is tried (over the largest request Kafka takes) came first in every pass,
so from then on no delayed page of any incident was published by any replica.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from alertrouter_router.db import snapshot_reads
from alertrouter_router.outbox import publish_due
from alertrouter_router.runtime import RouterRuntime
from alertrouter_router.work import run_unit
from alertrouter_shared.clock import OffsetClock
from alertrouter_shared.errors import TransientError
from alertrouter_shared.kafka import make_producer
from alertrouter_shared.settings import CommonSettings
from tests.helpers import TopicReader, eventually
from tests.router.conftest import alert_event, pages_for


async def test_a_page_kafka_refuses_leaves_the_others_of_the_pass_published(
    router: RouterRuntime, pages: TopicReader, router_clock: OffsetClock, kafka_bootstrap: str, unique: str
) -> None:
    state = router.state
    # Far ahead (and apart from other tests' far-future instants), so the running router's poller leaves these alone.
    at = router_clock.now().replace(microsecond=0) + timedelta(days=5000, minutes=int(unique[:4], 16))
    key = f"am:test-am:{unique}"
    event = alert_event(key, {"service": "checkout"}, occurred_at=at, received_at=at)
    async with state.pool.acquire() as conn, conn.transaction():
        snapshot, maintenance = await snapshot_reads.for_events(conn, [event], state.configs.current, at)
        effects, _ = await run_unit(conn, [event], snapshot, maintenance, state.configs.current, at, state.rules)
    hook = next(p for p in effects.pages if p.contact_method.id == "alice-hook")
    sms = next(p for p in effects.pages if p.contact_method.id == "alice-sms")
    assert sms.send_at > at  # held by alice's notification rule: only the poller publishes it
    # Over the largest request the producer sends (1 MiB): refused every time it is tried. Due before the others.
    refused = hook.model_copy(update={"page_id": f"{hook.page_id}:refused", "summary": "x" * 1_100_000})
    async with state.pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO router_outbox (page_id, incident_id, payload, created_at, send_at) "
            "VALUES ($1, $2, $3, $4, $4)",
            refused.page_id,
            refused.incident_id,
            refused.model_dump_json(),
            at - timedelta(minutes=1),
        )
    producer = make_producer(CommonSettings(kafka_bootstrap_servers=kafka_bootstrap))  # as the router's
    await producer.start()
    try:
        later = sms.send_at + timedelta(seconds=1)
        for _ in range(3):  # every pass of the poller, not only the first
            with pytest.raises(TransientError, match="refused"):
                while await publish_due(state.pool, producer, later, state.configs.current.config) > 0:
                    pass

        async def both_published() -> bool:
            return {hook.page_id, sms.page_id} <= {p.page_id for p in pages_for(pages, key)}

        await eventually(both_published, what="the hook page and the delayed SMS on the pages topic")
        async with state.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT page_id, published_at FROM router_outbox WHERE page_id = ANY($1::text[])",
                [hook.page_id, sms.page_id, refused.page_id],
            )
        marked = {r["page_id"]: r["published_at"] is not None for r in rows}
        assert marked == {hook.page_id: True, sms.page_id: True, refused.page_id: False}
    finally:
        await producer.stop()
        async with state.pool.acquire() as conn:  # the poller of later tests must not meet it
            await conn.execute("DELETE FROM router_outbox WHERE page_id = $1", refused.page_id)
