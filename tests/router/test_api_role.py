"""The router's API role (``alertrouter-router api``: no consumers, no timers) publishes the pages its actions write.

Escalate now, reassign and the notices of an acknowledgement are pages written by the API process. It never ran
the outbox: they stayed in its memory for good and went out only if a consuming process's poller found them,
seconds later, or never when none was running.
"""

from __future__ import annotations

import asyncio

import httpx
from aiokafka import AIOKafkaProducer
from kafka_offsets import skip_alert_backlog

from alertrouter_router.db.migrate import upgrade_to_head
from alertrouter_router.runtime import RouterRuntime
from tests.helpers import DatabaseFactory, TopicReader, eventually
from tests.router.conftest import TOKEN, alert_event, paged, router_settings, send


async def test_an_escalation_through_an_api_only_process_is_published_by_it(
    kafka_bootstrap: str, databases: DatabaseFactory, producer: AIOKafkaProducer, pages: TopicReader, unique: str
) -> None:
    url = databases.create()
    await asyncio.to_thread(upgrade_to_head, url, 30)
    consuming = RouterRuntime(router_settings(kafka_bootstrap, url))
    await skip_alert_backlog(kafka_bootstrap, consuming.state.settings.consumer_group)
    await consuming.start()
    key = f"am:test-am:{unique}"
    try:
        await send(producer, alert_event(key, {"service": "checkout", "alertname": "Down"}))
        await eventually(lambda: paged(pages, key), what="level 1's page, from the consuming process")
    finally:
        consuming.stop()
        await asyncio.wait_for(consuming.wait(), 30)

    api_only = RouterRuntime(router_settings(kafka_bootstrap, url), consume=False)
    await api_only.start()
    base = f"http://127.0.0.1:{api_only.state.settings.port}"
    try:
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}) as api:
            listed = (await api.get("/v1/incidents", params={"service": "checkout", "limit": 500})).json()["items"]
            [incident] = [item for item in listed if item["dedup_key"] == key]
            escalated = await api.post(f"/v1/incidents/{incident['id']}/escalate", json={"by": "alice"})
            assert escalated.status_code == 200, escalated.text
        await eventually(lambda: paged(pages, key, level=2), what="level 2's page, published by the API process")
    finally:
        api_only.stop()
        await asyncio.wait_for(api_only.wait(), 30)
