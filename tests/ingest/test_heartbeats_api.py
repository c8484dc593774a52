"""``POST /v1/heartbeats/{key}`` and the Alertmanager Watchdog receiver: each is a beat, a resolve of hb:<id> --
except a webhook whose Watchdog is resolved, which says monitoring stopped."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import structlog.testing
from prometheus_client import REGISTRY

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


@pytest.mark.parametrize(
    "fixture",
    [
        "alertmanager/watchdog-firing.json",
        "alertmanager/firing-group-3.json",
        "alertmanager/mixed-firing-resolved.json",
    ],
)
async def test_every_watchdog_webhook_with_a_firing_alert_is_one_beat_never_an_alert(
    client: httpx.AsyncClient, alerts_log: AlertsLog, fixture: str
) -> None:
    response = await _post_watchdog(client, fixture)
    (event,) = await _events(client, alerts_log, response)
    assert (event["source"], event["action"], event["dedup_key"]) == ("heartbeat", "resolve", "hb:test-am-watchdog")


@pytest.mark.parametrize("fixture", ["alertmanager/watchdog-resolved.json", "alertmanager/resolved.json"])
async def test_a_resolved_watchdog_is_no_beat_but_is_acknowledged(
    client: httpx.AsyncClient, alerts_log: AlertsLog, fixture: str
) -> None:
    """Alertmanager resolves the Watchdog when Prometheus stops evaluating it: monitoring is down, not alive.
    2xx all the same, so Alertmanager does not retry what would say the same."""
    before = await alerts_log.end_offsets()
    ignored_before = _ignored_count()
    with structlog.testing.capture_logs() as lines:
        response = await _post_watchdog(client, fixture)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ignored", "reason": "watchdog_resolved", "events": []}
    # A beat sent next has the same key (same partition): had the resolved webhook produced, it would come first.
    (beat,) = await _events(client, alerts_log, await _post_watchdog(client, "alertmanager/watchdog-firing.json"))
    watchdog_records = [
        value
        for partition, offset, _, value in alerts_log.records
        if offset >= before.get(partition, 0) and value.get("integration_id") == "test-am-watchdog"
    ]
    assert [value["event_id"] for value in watchdog_records] == [beat["event_id"]]
    assert _ignored_count() == ignored_before + 1
    (line,) = [line for line in lines if line["event"] == "watchdog_resolved_ignored"]
    assert line["integration"] == "test-am-watchdog"


async def _post_watchdog(client: httpx.AsyncClient, fixture: str) -> httpx.Response:
    return await client.post(
        "/v1/alertmanager/test-am-watchdog-key",
        content=fixture_bytes(fixture),
        headers={"content-type": "application/json"},
    )


def _ignored_count() -> float:
    labels = {"integration": "test-am-watchdog", "reason": "watchdog_resolved"}
    return REGISTRY.get_sample_value("alertrouter_ingest_alertmanager_ignored_total", labels) or 0.0
