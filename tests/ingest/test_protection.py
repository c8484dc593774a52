"""Guards: body size (413), body deadline (408), content type (415), per-integration rate (503; PagerDuty's 429
on /v2/enqueue), requests in flight overall and per integration (503)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import httpx
import structlog.testing
from prometheus_client import REGISTRY

from alertrouter_ingest.app import create_app
from alertrouter_ingest.publisher import Publisher
from tests.helpers import eventually
from tests.ingest.conftest import (
    AM_KEY,
    CW_ANY_KEY,
    EV2_KEY,
    GRAFANA_KEY,
    AlertsLog,
    fixture_bytes,
    fixture_json,
    ingest_settings,
    serve,
)
from tests.ingest.sns_support import pem, sign
from tests.ingest.sns_world import PEM_PATH, SnsWorld, message, post

FIRING = fixture_bytes("alertmanager/firing-single.json")
GRAFANA = fixture_bytes("grafana/firing.json")


async def test_body_over_the_limit_is_413_whether_declared_or_streamed(
    kafka_bootstrap: str, ingest_publisher: Publisher, alerts_log: AlertsLog
) -> None:
    app = create_app(ingest_settings(kafka_bootstrap, max_body_bytes=1024), publisher=ingest_publisher)
    big = fixture_bytes("alertmanager/firing-group-3.json")
    assert len(big) > 1024

    async def chunked() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 256):
            yield big[start : start + 256]

    before = await alerts_log.end_offsets()
    async with serve(app) as client:
        declared = await client.post(f"/v1/alertmanager/{AM_KEY}", content=big)
        streamed = await client.post(f"/v1/alertmanager/{AM_KEY}", content=chunked())
        events_v2 = await client.post("/v2/enqueue", content=b" " * 2000 + b"{}")
    for response in (declared, streamed, events_v2):
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"
        assert "limit of 1024 bytes" in response.json()["detail"]
    assert await alerts_log.produced_since(before) == []


async def test_default_body_limit_is_512_kib(client: httpx.AsyncClient) -> None:
    response = await client.post(f"/v1/alertmanager/{AM_KEY}", content=b"{" + b" " * (512 * 1024))
    assert response.status_code == 413


async def test_non_json_content_type_is_415(client: httpx.AsyncClient) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
        response = await client.post(
            f"/v1/alertmanager/{AM_KEY}", content=FIRING, headers={"Content-Type": content_type}
        )
        assert response.status_code == 415, content_type
        assert content_type in response.json()["detail"]
    pd = await client.post("/v2/enqueue", content=b"{}", headers={"Content-Type": "text/plain"})
    assert pd.status_code == 415


async def test_json_content_types_are_accepted(client: httpx.AsyncClient) -> None:
    for content_type in ("application/json", "application/json; charset=utf-8", "application/vnd.x+json"):
        response = await client.post(
            f"/v1/alertmanager/{AM_KEY}", content=FIRING, headers={"Content-Type": content_type}
        )
        assert response.status_code == 202, content_type


async def test_rate_limit_is_per_integration_with_retry_after(
    kafka_bootstrap: str, ingest_publisher: Publisher
) -> None:
    """Over the limit: 503 for Alertmanager and Grafana, which retry only 5xx (a 429 made them drop the alerts);
    PagerDuty's own 429 on /v2/enqueue, which PagerDuty's clients retry; heartbeats keep the plain 429."""
    settings = ingest_settings(kafka_bootstrap, rate_limit_per_second=0.01, rate_limit_burst=2)
    async with serve(create_app(settings, publisher=ingest_publisher)) as client:
        statuses = [(await client.post(f"/v1/alertmanager/{AM_KEY}", content=FIRING)).status_code for _ in range(2)]
        limited = await client.post(f"/v1/alertmanager/{AM_KEY}", content=FIRING)
        other_integration = await client.post("/v1/alertmanager/test-am-unbound-key", content=FIRING)
        grafana = [await client.post(f"/v1/grafana/{GRAFANA_KEY}", content=GRAFANA) for _ in range(3)]
        trigger = fixture_json("pagerduty/trigger.json")
        pd = [(await client.post("/v2/enqueue", json=trigger)) for _ in range(3)]
        beats = [(await client.post("/v1/heartbeats/test-heartbeat-key")).status_code for _ in range(3)]
    assert statuses == [202, 202]
    assert limited.status_code == 503
    assert limited.headers["content-type"] == "application/problem+json"
    assert "over its rate limit" in limited.json()["detail"]
    assert 1 <= int(limited.headers["retry-after"]) <= 100
    assert other_integration.status_code == 202
    assert [r.status_code for r in grafana] == [202, 202, 503]
    assert 1 <= int(grafana[2].headers["retry-after"]) <= 100
    assert [r.status_code for r in pd] == [202, 202, 429]
    assert pd[2].json()["status"] == "throttle event"
    assert int(pd[2].headers["retry-after"]) >= 1
    assert beats == [202, 202, 429]


async def test_sns_over_the_rate_limit_is_503_which_sns_retries(
    world: SnsWorld, kafka_bootstrap: str, ingest_publisher: Publisher
) -> None:
    """SNS retries 5xx only: a 429 would drop the alarm for good."""
    settings = world.settings(kafka_bootstrap, rate_limit_per_second=0.01, rate_limit_burst=1)
    certificate, key = world.root.signing_certificate()
    world.host.files["/SimpleNotificationService-rate.pem"] = pem(certificate)
    url = world.host.base + "/SimpleNotificationService-rate.pem"  # PEM_PATH's fetches are another test's signal
    async with serve(create_app(settings, publisher=ingest_publisher)) as client:
        first, limited = [
            await post(client, sign(message(world, "cloudwatch/sns-alarm-notification.json", SigningCertURL=url), key))
            for _ in range(2)
        ]
    assert first.status_code == 202, first.text
    assert limited.status_code == 503
    assert 1 <= int(limited.headers["retry-after"]) <= 100
    assert "over its rate limit" in limited.json()["detail"]


async def test_rate_limit_is_off_by_default(client: httpx.AsyncClient) -> None:
    statuses = {(await client.post(f"/v1/alertmanager/{AM_KEY}", content=FIRING)).status_code for _ in range(30)}
    assert statuses == {202}


async def test_a_slow_body_holds_no_slot_and_times_out_with_408(
    kafka_bootstrap: str, ingest_publisher: Publisher, alerts_log: AlertsLog
) -> None:
    """With one slot, a client trickling its body neither blocks others nor is waited for beyond the deadline."""
    settings = ingest_settings(kafka_bootstrap, max_in_flight=1, body_read_timeout_seconds=1.0)
    reading, release = asyncio.Event(), asyncio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        yield FIRING[:10]
        reading.set()  # the app asked for more of the body
        await release.wait()
        yield FIRING[10:]

    before = await alerts_log.end_offsets()
    async with serve(create_app(settings, publisher=ingest_publisher)) as client:
        held = asyncio.create_task(client.post(f"/v1/alertmanager/{AM_KEY}", content=slow_body()))
        await asyncio.wait_for(reading.wait(), timeout=10)
        other = await client.post("/v2/enqueue", json=fixture_json("pagerduty/trigger.json"))
        slow = await asyncio.wait_for(held, timeout=10)
        release.set()
    assert other.status_code == 202
    assert slow.status_code == 408
    assert slow.headers["content-type"] == "application/problem+json"
    assert slow.json()["detail"] == "the body was not received within 1 seconds"
    produced = await alerts_log.produced_since(before)
    assert [event["source"] for event in produced] == ["events_v2"]


async def test_in_flight_cap_and_per_integration_share_answer_503_at_once(
    world: SnsWorld, kafka_bootstrap: str, ingest_publisher: Publisher
) -> None:
    """Requests held in flight (their signing certificate is slow to fetch): an integration over its share is
    refused while another integration still gets a slot; beyond the overall cap everyone is refused."""
    settings = world.settings(kafka_bootstrap, max_in_flight=2, max_in_flight_per_integration=1)
    gate = threading.Event()
    world.host.gates[PEM_PATH] = gate
    pinned = sign(message(world, "cloudwatch/sns-alarm-notification.json"), world.key)
    try:
        async with serve(create_app(settings, publisher=ingest_publisher)) as client:
            first = asyncio.create_task(post(client, pinned))
            await eventually(lambda: _fetches(world), timeout=10, what="the certificate fetch to start")
            same_integration = await post(client, pinned)
            other_integration = await client.post(f"/v1/alertmanager/{AM_KEY}", content=FIRING)
            second = asyncio.create_task(post(client, pinned, key=CW_ANY_KEY))
            await eventually(lambda: _in_flight(2), timeout=10, what="two requests in flight")
            over_the_cap = await client.post(f"/v1/alertmanager/{AM_KEY}", content=FIRING)
            gate.set()
            held = [await first, await second]
            after = await client.post(f"/v1/alertmanager/{AM_KEY}", content=FIRING)
    finally:
        gate.set()
        del world.host.gates[PEM_PATH]
    assert same_integration.status_code == 503
    assert same_integration.headers["retry-after"] == "1"
    assert same_integration.json()["detail"] == (
        "too many requests of integration 'test-cw' in flight (its share is 1); retry shortly"
    )
    assert other_integration.status_code == 202
    assert over_the_cap.status_code == 503
    assert over_the_cap.json()["detail"] == "too many requests in flight (limit 2); retry shortly"
    assert [response.status_code for response in held] == [202, 202]
    assert after.status_code == 202


async def _fetches(world: SnsWorld) -> bool:
    return world.host.hits[PEM_PATH] > 0


async def _in_flight(count: int) -> bool:
    return REGISTRY.get_sample_value("alertrouter_ingest_in_flight_requests") == count


async def test_label_count_and_size_limits_name_the_field(
    kafka_bootstrap: str, ingest_publisher: Publisher, alerts_log: AlertsLog
) -> None:
    settings = ingest_settings(kafka_bootstrap, max_labels_per_alert=5, max_annotation_value_chars=20)
    payload = fixture_json("alertmanager/firing-single.json")
    before = await alerts_log.end_offsets()
    async with serve(create_app(settings, publisher=ingest_publisher)) as client:
        too_many = await client.post(f"/v1/alertmanager/{AM_KEY}", json=payload)
        payload["commonLabels"] = {}
        payload["alerts"][0]["labels"] = {"alertname": "X"}
        too_long = await client.post(f"/v1/alertmanager/{AM_KEY}", json=payload)
    assert too_many.status_code == 400
    assert too_many.json()["detail"] == "alerts[0].labels: 8 labels, over the limit of 5"
    assert too_long.status_code == 400
    assert too_long.json()["detail"].startswith(
        "alerts[0].annotations.description: the annotation value is 75 characters, over the limit of 20"
    )
    assert await alerts_log.produced_since(before) == []


async def test_too_many_alerts_in_one_request_is_413(kafka_bootstrap: str, ingest_publisher: Publisher) -> None:
    settings = ingest_settings(kafka_bootstrap, max_alerts_per_request=2)
    async with serve(create_app(settings, publisher=ingest_publisher)) as client:
        response = await client.post(
            f"/v1/alertmanager/{AM_KEY}", content=fixture_bytes("alertmanager/firing-group-3.json")
        )
    assert response.status_code == 413
    assert response.json()["detail"] == "alerts: 3 alerts in one request, over the limit of 2"


async def test_events_amplified_by_common_labels_are_refused_before_kafka(
    kafka_bootstrap: str, ingest_publisher: Publisher, alerts_log: AlertsLog
) -> None:
    """A crafted group with a huge common label cannot turn a small body into megabytes of records."""
    before = await alerts_log.end_offsets()
    settings = ingest_settings(kafka_bootstrap, max_produced_bytes_per_request=1024 * 1024)
    payload = fixture_json("alertmanager/firing-single.json")
    template = payload["alerts"][0]
    payload["commonLabels"]["padding"] = "x" * 100_000
    payload["alerts"] = [{**template, "labels": {"alertname": f"A{i}"}, "fingerprint": None} for i in range(20)]
    for alert in payload["alerts"]:
        del alert["fingerprint"]
    async with serve(create_app(settings, publisher=ingest_publisher)) as client:
        response = await client.post(f"/v1/alertmanager/{AM_KEY}", json=payload)
    assert response.status_code == 413
    assert "over the limit of 1048576" in response.json()["detail"]
    assert await alerts_log.produced_since(before) == []


async def test_group_fields_repeated_into_every_event_have_size_caps(client: httpx.AsyncClient) -> None:
    """groupKey has none: it is accepted at any length and stored bounded (test_alertmanager_api.py)."""
    payload = fixture_json("alertmanager/firing-single.json")
    cases = {
        "externalURL": ("http://" + "x" * 2048, "externalURL: String should have at most 2048 characters"),
        "commonLabels": (
            {"padding": "x" * (256 * 1024)},
            "commonLabels: Value error, 262151 characters of names and values, over the limit of 262144",
        ),
    }
    for field, (value, detail) in cases.items():
        response = await client.post(f"/v1/alertmanager/{AM_KEY}", json={**payload, field: value})
        assert response.status_code == 400, field
        assert response.json()["detail"] == detail


async def test_events_v2_key_is_never_echoed(client: httpx.AsyncClient) -> None:
    event = fixture_json("pagerduty/trigger.json")
    event["routing_key"] = "ffffffffffffffffffffffffffffffff"
    response = await client.post("/v2/enqueue", json=event)
    assert response.status_code == 404
    assert "ffffffff" not in response.text
    assert EV2_KEY not in response.text


async def test_access_log_is_one_line_per_request_with_the_route_template(
    kafka_bootstrap: str, ingest_publisher: Publisher
) -> None:
    app = create_app(ingest_settings(kafka_bootstrap, access_log=True), publisher=ingest_publisher)
    async with serve(app) as client:
        with structlog.testing.capture_logs() as lines:
            accepted = await client.post(f"/v1/alertmanager/{AM_KEY}", content=FIRING)
            unknown = await client.post("/v1/alertmanager/not-a-key", content=FIRING)
            health = await client.get("/healthz")
    assert [accepted.status_code, unknown.status_code, health.status_code] == [202, 404, 200]
    requests = [line for line in lines if line["event"] == "http_request"]
    assert [(line["method"], line["route"], line["status"]) for line in requests] == [
        ("POST", "/v1/alertmanager/{integration_key}", 202),
        ("POST", "/v1/alertmanager/{integration_key}", 404),
        ("GET", "/healthz", 200),
    ]
    assert all(line["duration_ms"] >= 0 for line in requests)
    assert AM_KEY not in repr(lines) and "not-a-key" not in repr(lines)
