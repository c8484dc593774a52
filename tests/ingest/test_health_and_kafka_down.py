"""Health, readiness and metrics; and what a sender sees when Kafka is not there."""

from __future__ import annotations

import httpx

from alertrouter_ingest.app import create_app
from tests.helpers import free_port
from tests.ingest.conftest import (
    AM_KEY,
    CW_KEY,
    EV2_KEY,
    AlertsLog,
    fixture_bytes,
    fixture_json,
    ingest_settings,
    serve,
)


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_200_with_a_real_broker(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["integrations"] == 10  # enabled ones


async def test_readyz_with_an_owned_producer_becomes_ready_by_itself(kafka_bootstrap: str) -> None:
    """Without a given producer the app connects in the background; readiness follows."""
    from tests.helpers import eventually

    async with serve(create_app(ingest_settings(kafka_bootstrap))) as client:

        async def ready() -> bool:
            return (await client.get("/readyz")).status_code == 200

        await eventually(ready, timeout=30, what="readiness")
        response = await client.post(
            f"/v1/alertmanager/{AM_KEY}", content=fixture_bytes("alertmanager/firing-single.json")
        )
        assert response.status_code == 202


async def test_metrics_count_requests_alerts_and_rejects(client: httpx.AsyncClient) -> None:
    await client.post(f"/v1/alertmanager/{AM_KEY}", content=fixture_bytes("alertmanager/firing-group-3.json"))
    await client.post("/v1/alertmanager/nope", content=b"{}")
    text = (await client.get("/metrics")).text
    assert 'alertrouter_ingest_requests_total{source="alertmanager",status="202"}' in text
    assert 'alertrouter_ingest_requests_total{source="alertmanager",status="404"}' in text
    assert 'alertrouter_ingest_alerts_total{action="trigger",source="alertmanager"}' in text
    assert 'alertrouter_ingest_rejects_total{reason="unknown_key",source="alertmanager"}' in text
    assert 'alertrouter_kafka_produce_seconds_bucket{alertrouter_service="ingest",le="0.005"}' in text
    assert "alertrouter_ingest_in_flight_requests 0.0" in text
    assert AM_KEY not in text


async def test_unknown_route_and_method_are_problems(client: httpx.AsyncClient) -> None:
    missing = await client.post("/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    wrong_method = await client.get(f"/v1/alertmanager/{AM_KEY}")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["content-type"] == "application/problem+json"


async def test_kafka_unreachable_means_503_with_retry_after_and_not_ready(alerts_log: AlertsLog) -> None:
    nowhere = f"127.0.0.1:{free_port()}"
    before = await alerts_log.end_offsets()
    settings = ingest_settings(nowhere, produce_timeout_seconds=1.0, readiness_cache_seconds=0)
    async with serve(create_app(settings)) as client:
        am = await client.post(f"/v1/alertmanager/{AM_KEY}", content=fixture_bytes("alertmanager/firing-single.json"))
        ev2 = await client.post("/v2/enqueue", json=fixture_json("pagerduty/trigger.json"))
        ready = await client.get("/readyz")
        health = await client.get("/healthz")
    for response in (am, ev2):
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert response.headers["content-type"] == "application/problem+json"
        assert "Kafka" in response.json()["detail"]
    assert ready.status_code == 503
    assert health.status_code == 200
    assert await alerts_log.produced_since(before) == []


async def test_invalid_requests_are_still_refused_precisely_while_kafka_is_down() -> None:
    """Kafka being down never turns a request that can never succeed into a retryable 503."""
    settings = ingest_settings(f"127.0.0.1:{free_port()}")
    async with serve(create_app(settings)) as client:
        bad = await client.post(
            f"/v1/alertmanager/{AM_KEY}", content=fixture_bytes("bad/alertmanager-wrong-version.json")
        )
        unknown = await client.post("/v1/alertmanager/nope", content=fixture_bytes("alertmanager/firing-single.json"))
        unsigned = await client.post(
            f"/v1/cloudwatch/{CW_KEY}",
            content=fixture_bytes("cloudwatch/sns-alarm-notification.json"),
            headers={"x-amz-sns-message-type": "Notification", "Content-Type": "text/plain; charset=UTF-8"},
        )
        pd = fixture_json("pagerduty/trigger.json")
        pd["payload"]["severity"] = "high"
        pd_bad = await client.post("/v2/enqueue", json=pd)
    assert (bad.status_code, unknown.status_code, unsigned.status_code, pd_bad.status_code) == (400, 404, 403, 400)
    assert EV2_KEY  # the events_v2 key of the test configuration is valid
