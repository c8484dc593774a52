"""``POST /v1/heartbeats/{key}`` and the Alertmanager Watchdog receiver: each is a beat, a resolve of hb:<id>."""

from __future__ import annotations

from typing import Any

import httpx

from tests.ingest.conftest import AlertsLog, fixture_bytes


async def _events(client: httpx.AsyncClient, alerts_log: AlertsLog, response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 202, response.text
    ids = [e["event_id"] for e in response.json()["events"]]
    return [event for _, event in await alerts_log.events(ids)]


async def test_a_beat_is_a_resolve_of_the_heartbeat_alert(client: httpx.AsyncClient, alerts_log: AlertsLog) -> None:
    (event,) = await _events(client, alerts_log, await client.post("/v1/heartbeats/test-heartbeat-key"))
    assert (event["source"], event["action"], event["dedup_key"]) == ("heartbeat", "resolve", "hb:test-heartbeat")
    assert event["bound_service"] == "checkout" and event["integration_id"] == "test-heartbeat"
    with_body = await client.post("/v1/heartbeats/test-heartbeat-key", content=b'{"job": "nightly backup"}')
    assert len(await _events(client, alerts_log, with_body)) == 1


async def test_unknown_and_other_type_keys_are_404_and_produce_nothing(
    client: httpx.AsyncClient, alerts_log: AlertsLog
) -> None:
    before = await alerts_log.end_offsets()
    for key in ("nope", "test-am-key"):
        response = await client.post(f"/v1/heartbeats/{key}")
        assert response.status_code == 404 and response.headers["content-type"].startswith("application/problem+json")
    assert await alerts_log.produced_since(before) == []


async def test_every_watchdog_webhook_is_one_beat_never_an_alert(
    client: httpx.AsyncClient, alerts_log: AlertsLog
) -> None:
    body = fixture_bytes("alertmanager/firing-group-3.json")
    response = await client.post(
        "/v1/alertmanager/test-am-watchdog-key", content=body, headers={"content-type": "application/json"}
    )
    (event,) = await _events(client, alerts_log, response)
    assert (event["source"], event["action"], event["dedup_key"]) == ("heartbeat", "resolve", "hb:test-am-watchdog")
