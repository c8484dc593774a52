"""The router's API role (``alertrouter-router api``: no consumers, no timers) publishes the pages its actions write.

Escalate now, reassign and the notices of an acknowledgement are pages written by the API process. It never ran
the outbox: they stayed in its memory for good and went out only if a consuming process's poller found them,
seconds later, or never when none was running.
"""

from __future__ import annotations

import asyncio
from typing import Any

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
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        await send(producer, alert_event(key, {"service": "checkout", "alertname": "Down"}))
        # Every router of the session consumes the alerts topic (each its own group and database), so a page on the
        # shared pages topic may be another's: wait for this alert's incident in this router's own database.
        consuming_url = f"http://127.0.0.1:{consuming.state.settings.port}"
        async with httpx.AsyncClient(base_url=consuming_url, headers=headers) as own:
            incident = await eventually(lambda: _incident(own, key), what="the incident in this router's database")
    finally:
        consuming.stop()
        await asyncio.wait_for(consuming.wait(), 30)

    api_only = RouterRuntime(router_settings(kafka_bootstrap, url), consume=False)
    await api_only.start()
    base = f"http://127.0.0.1:{api_only.state.settings.port}"
    try:
        async with httpx.AsyncClient(base_url=base, headers=headers) as api:
            found = await api.get(f"/v1/incidents/{incident['id']}")
            assert found.status_code == 200, f"{base} ({url}): {found.status_code} {found.text[:300]}"
            escalated = await api.post(f"/v1/incidents/{incident['id']}/escalate", json={"by": "alice"})
            assert escalated.status_code == 200, escalated.text
        await eventually(lambda: paged(pages, key, level=2), what="level 2's page, published by the API process")
    finally:
        api_only.stop()
        await asyncio.wait_for(api_only.wait(), 30)


async def _incident(api: httpx.AsyncClient, key: str) -> dict[str, Any] | None:
    """Found through its alert's decision, not by listing: a CI run once listed none for the key just decided."""
    decided = (await api.get("/v1/decisions", params={"dedup_key": key, "outcome": "paged"})).json()["items"]
    if not decided:
        return None
    found: dict[str, Any] = (await api.get(f"/v1/incidents/{decided[0]['incident_id']}")).json()["incident"]
    return found
