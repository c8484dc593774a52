"""The eight ways the first router could swallow a page, on the real path: Kafka → router → PostgreSQL → pages.

Each test reproduces a problem of the router core v2 issue and shows it fixed. The router runs in-process with an
offset clock, so a maintenance window ends without waiting for it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer

from alertrouter_router.db.pool import connect_arguments
from alertrouter_router.runtime import RouterRuntime
from alertrouter_shared.clock import OffsetClock
from alertrouter_shared.events import AlertAction, Page
from tests.helpers import TopicReader, eventually
from tests.router.conftest import alert_event, decisions_for, paged, pages_for, send


async def _window(api: httpx.AsyncClient, service: str, clock: OffsetClock, seconds: int) -> str:
    ends = (clock.now() + timedelta(seconds=seconds)).isoformat()
    created = await api.post(
        f"/v1/services/{service}/maintenance", json={"ends_at": ends, "reason": "deploy", "created_by": "alice"}
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def test_alert_still_firing_when_the_window_ends_is_paged_without_a_resend(
    router: RouterRuntime,
    api: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    pages: TopicReader,
    router_clock: OffsetClock,
    unique: str,
) -> None:
    """Problem 1: the re-sent alert after the window was a duplicate of a never-paged incident."""
    key = f"am:test-am:{unique}"
    await _window(api, "checkout", router_clock, 12)
    await send(producer, alert_event(key, {"service": "checkout", "alertname": "Down"}))
    inside = (await decisions_for(api, key, 1))[0]
    assert inside["outcome"] == "suppressed" and inside["incident_id"] is None
    router_clock.advance(timedelta(seconds=13))  # the window is over; nothing is re-sent
    await eventually(lambda: paged(pages, key), what="the page once the window ended")
    after = (await decisions_for(api, key, 2))[1]
    assert after["outcome"] == "paged" and after["reason"].startswith("maintenance ended: ")
    # Alertmanager's re-send of the still-firing alert is now a duplicate of a paged incident.
    await send(producer, alert_event(key, {"service": "checkout", "alertname": "Down"}))
    assert (await decisions_for(api, key, 3))[2]["outcome"] == "duplicate"


async def test_window_ended_early_through_the_api_pages_at_once(
    router: RouterRuntime,
    api: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    pages: TopicReader,
    router_clock: OffsetClock,
    unique: str,
) -> None:
    key = f"am:test-am:{unique}"
    window_id = await _window(api, "checkout", router_clock, 3600)
    await send(producer, alert_event(key, {"service": "checkout"}))
    assert (await decisions_for(api, key, 1))[0]["explanation"]["suppressed_by"] == "maintenance"
    ended = await api.delete(f"/v1/services/checkout/maintenance/{window_id}")
    assert ended.status_code == 200
    await eventually(lambda: paged(pages, key), what="the page after the window was ended early")


async def test_new_alert_after_the_window_is_never_grouped_into_a_silent_incident(
    router: RouterRuntime,
    api: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    pages: TopicReader,
    router_clock: OffsetClock,
    unique: str,
) -> None:
    """Problem 2: a new alert N within the grouping window was grouped into alert M's never-paged incident."""
    router_clock.advance(timedelta(seconds=61))  # out of the grouping window of earlier storm incidents
    m, n = f"am:test-am:{unique}-m", f"am:test-am:{unique}-n"
    await _window(api, "storm", router_clock, 8)
    await send(producer, alert_event(m, {"service": "storm", "instance": "m"}))
    assert (await decisions_for(api, m, 1))[0]["outcome"] == "suppressed"
    router_clock.advance(timedelta(seconds=10))
    await send(producer, alert_event(n, {"service": "storm", "instance": "n"}))
    decision = (await decisions_for(api, n, 1))[0]
    assert decision["outcome"] in {"paged", "grouped"}

    async def incident_paged() -> bool:
        return any(Page.model_validate_json(v).incident_id == decision["incident_id"] for v in pages.values)

    await eventually(incident_paged, what="a page for the incident that holds alert N")


async def test_stale_backlog_trigger_then_fresh_trigger_pages(
    router: RouterRuntime,
    api: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    pages: TopicReader,
    router_clock: OffsetClock,
    unique: str,
) -> None:
    """Problem 3: the stale trigger opened a never-paged incident and the fresh one was a duplicate."""
    key = f"am:test-am:{unique}"
    old = router_clock.now() - timedelta(hours=2)
    await send(producer, alert_event(key, {"service": "checkout"}, occurred_at=old, received_at=old))
    assert (await decisions_for(api, key, 1))[0]["explanation"]["suppressed_by"] == "stale"
    await send(producer, alert_event(key, {"service": "checkout"}))
    fresh = (await decisions_for(api, key, 2))[1]
    assert fresh["outcome"] == "paged" and fresh["reason"].startswith("a fresh trigger after a stale one")
    await eventually(lambda: paged(pages, key), what="the page of the fresh trigger")


async def test_future_dated_resolve_does_not_suppress_later_triggers(
    router: RouterRuntime, api: httpx.AsyncClient, producer: AIOKafkaProducer, router_clock: OffsetClock, unique: str
) -> None:
    """Problem 4: a resolve with endsAt in 2099 made every later trigger 'happened before the resolve'."""
    key = f"am:test-am:{unique}"
    labels = {"service": "checkout"}
    await send(producer, alert_event(key, labels))
    far = router_clock.now().replace(year=2099)
    await send(producer, alert_event(key, labels, AlertAction.RESOLVE, occurred_at=far))
    resolved = (await decisions_for(api, key, 2))[1]
    assert resolved["outcome"] == "resolved" and "clamped" in resolved["explanation"]
    router_clock.advance(timedelta(seconds=1))
    await send(producer, alert_event(key, labels))
    again = (await decisions_for(api, key, 3))[2]
    assert again["outcome"] == "paged"


async def test_resolve_of_an_unknown_key_creates_no_incident(
    router: RouterRuntime, api: httpx.AsyncClient, producer: AIOKafkaProducer, router_database_url: str, unique: str
) -> None:
    """Problem 5: tombstones showed up as resolved incidents in GET /v1/incidents."""
    key = f"cw:test:{unique}"
    await send(producer, alert_event(key, {"service": "checkout"}, AlertAction.RESOLVE))
    decision = (await decisions_for(api, key, 1))[0]
    assert decision["outcome"] == "resolved" and decision["incident_id"] is None
    conn = await asyncpg.connect(**connect_arguments(router_database_url))
    try:
        incidents = await conn.fetchval("SELECT count(*) FROM router_incident WHERE dedup_key = $1", key)
        alert = await conn.fetchrow("SELECT status, incident_id FROM router_alert WHERE dedup_key = $1", key)
    finally:
        await conn.close()
    assert incidents == 0
    assert (alert["status"], alert["incident_id"]) == ("resolved", None)


async def test_incident_with_three_alerts_resolves_only_when_all_three_have(
    router: RouterRuntime,
    api: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    pages: TopicReader,
    router_clock: OffsetClock,
    unique: str,
) -> None:
    """Problem 6: the incident closed with its first alert; members still firing paged again; pages said nothing
    of the alerts they carry."""
    router_clock.advance(timedelta(seconds=61))
    keys = [f"am:test-am:{unique}-{i}" for i in range(3)]
    for key in keys:
        await send(producer, alert_event(key, {"service": "storm", "instance": key}))
    decisions = [(await decisions_for(api, key, 1))[0] for key in keys]
    incident_id = decisions[0]["incident_id"]
    assert {d["incident_id"] for d in decisions} == {incident_id}
    page = await eventually(lambda: _first_page(pages, keys[0]), what="the incident's page")
    assert page["alerts"][0]["dedup_key"] == keys[0]

    async def status() -> dict[str, Any]:
        return dict((await api.get(f"/v1/incidents/{incident_id}")).json())

    for key in keys[:2]:
        await send(producer, alert_event(key, {"service": "storm", "instance": key}, AlertAction.RESOLVE))
        await decisions_for(api, key, 2)
    body = await status()
    assert body["incident"]["status"] == "triggered" and body["incident"]["firing_count"] == 1
    assert sorted(a["status"] for a in body["alerts"]) == ["firing", "resolved", "resolved"]
    router_clock.advance(timedelta(seconds=61))  # past the grouping window: a member still firing must not re-page
    await send(producer, alert_event(keys[2], {"service": "storm", "instance": keys[2]}))
    assert (await decisions_for(api, keys[2], 2))[1]["outcome"] == "duplicate"
    await send(producer, alert_event(keys[2], {"service": "storm", "instance": keys[2]}, AlertAction.RESOLVE))
    await decisions_for(api, keys[2], 3)
    assert (await status())["incident"]["status"] == "resolved"


async def _first_page(reader: TopicReader, key: str) -> dict[str, Any] | None:
    found = pages_for(reader, key)
    return found[0].model_dump(mode="json") if found else None
