"""Guards: body size (413), body deadline (408), content type (415), per-integration rate (503; PagerDuty's 429
on /v2/enqueue), requests in flight overall and per integration (503)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator

import httpx
import pytest
import structlog.testing
from prometheus_client import REGISTRY
from pydantic import ValidationError

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


async def test_group_fields_repeated_into_every_event_have_size_caps(
    client: httpx.AsyncClient, alerts_log: AlertsLog
) -> None:
    """groupKey and externalURL are accepted at any length and stored bounded (a 4xx is never retried: the group's
    alerts would be lost; test_alertmanager_api.py); labels and annotations, which route, are refused beyond theirs."""
    payload = fixture_json("alertmanager/firing-single.json")
    response = await client.post(f"/v1/alertmanager/{AM_KEY}", json={**payload, "externalURL": "http://" + "x" * 9000})
    assert response.status_code == 202, response.text
    ((_, event),) = await alerts_log.events(e["event_id"] for e in response.json()["events"])
    assert len(event["details"]["external_url"]) == 2048
    labels = {"padding": "x" * (256 * 1024)}
    response = await client.post(f"/v1/alertmanager/{AM_KEY}", json={**payload, "commonLabels": labels})
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "commonLabels: Value error, 262151 characters of names and values, over the limit of 262144"
    )


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


async def test_bytes_in_flight_over_the_budget_are_shed_with_503_and_accepted_again_once_released(
    world: SnsWorld, kafka_bootstrap: str, ingest_publisher: Publisher, alerts_log: AlertsLog
) -> None:
    """An SNS delivery held at its certificate fetch holds 12 times its 16,000-byte body (the body and what parsing
    made of it) of the 245,760-byte budget. A body declared larger than what is left is refused before it is read,
    a streamed one once whole, a small body whose records do not fit before anything reaches Kafka -- each 503 with
    Retry-After, counted; a small request still fits. Once the delivery is answered every refused request is
    accepted, and every 202 is in Kafka."""
    budget = 12 * 16_384 + 49_152
    settings = world.settings(
        kafka_bootstrap, max_body_bytes=16_384, max_produced_bytes_per_request=49_152, max_in_flight_bytes=budget
    )
    signed = sign(message(world, "cloudwatch/sns-alarm-notification.json"), world.key)
    delivery = json.dumps(signed).encode()
    delivery = b" " * (16_000 - len(delivery)) + delivery  # JSON may begin with whitespace
    held = 12 * len(delivery)
    left = budget - held
    declared = b" " * 14_000 + FIRING
    streamed_body = b" " * (6_000 - len(FIRING)) + FIRING
    amplified = _amplified(alerts=20, padding=1200)
    assert 12 * len(declared) > left and len(streamed_body) < left < 12 * len(streamed_body)
    assert 12 * len(amplified) < left  # parsed, it fits: its records do not
    assert 12 * len(FIRING) + 4_000 < left

    async def streamed(body: bytes) -> AsyncIterator[bytes]:
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    gate = threading.Event()
    world.host.gates[PEM_PATH] = gate
    fetched = world.host.hits[PEM_PATH]
    before = await alerts_log.end_offsets()
    shed_before = _rejects("alertmanager", "bytes_in_flight")
    try:
        async with serve(create_app(settings, publisher=ingest_publisher)) as client:
            holding = asyncio.create_task(post(client, delivery))
            await eventually(
                lambda: _fetched_since(world, fetched), timeout=10, what="the held delivery's certificate fetch"
            )
            assert await _bytes_in_flight(held)
            shed = [
                await client.post(f"/v1/alertmanager/{AM_KEY}", content=declared),
                await client.post(f"/v1/alertmanager/{AM_KEY}", content=streamed(streamed_body)),
                await client.post(f"/v1/alertmanager/{AM_KEY}", content=amplified),
            ]
            small = await client.post(f"/v1/alertmanager/{AM_KEY}", content=FIRING)
            assert await _bytes_in_flight(held)  # the refused and the small requests' bytes were given back
            gate.set()
            answered = await holding
            retried = [
                await client.post(f"/v1/alertmanager/{AM_KEY}", content=declared),
                await client.post(f"/v1/alertmanager/{AM_KEY}", content=streamed(streamed_body)),
                await client.post(f"/v1/alertmanager/{AM_KEY}", content=amplified),
            ]
    finally:
        gate.set()
        del world.host.gates[PEM_PATH]
    for response in shed:
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "1"
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"].startswith("too many bytes in flight")
        assert f"limit {budget} bytes of bodies and records" in response.json()["detail"]
    assert [r.status_code for r in (small, answered, *retried)] == [202] * 5
    assert _rejects("alertmanager", "bytes_in_flight") - shed_before == 3
    assert await _bytes_in_flight(0)
    accepted = [event["event_id"] for r in (small, answered, *retried) for event in r.json()["events"]]
    assert len(accepted) == 1 + 1 + 1 + 1 + 20
    assert len(await alerts_log.events(accepted)) == len(accepted)
    produced = await alerts_log.produced_since(before)
    assert sorted(event["event_id"] for event in produced) == sorted(accepted)  # nothing of a refused request


async def test_bytes_in_flight_are_given_back_when_a_request_fails_or_its_body_times_out(
    kafka_bootstrap: str, ingest_publisher: Publisher
) -> None:
    """A body refused 400 after it was read, and one that never finished (408): neither keeps its bytes."""
    settings = ingest_settings(kafka_bootstrap, body_read_timeout_seconds=1.0)

    async def never_finished() -> AsyncIterator[bytes]:
        yield b" " * 5000
        await asyncio.Event().wait()

    async with serve(create_app(settings, publisher=ingest_publisher)) as client:
        invalid = await client.post(f"/v1/alertmanager/{AM_KEY}", content=b" " * 5000 + b"{}")
        timed_out = await client.post(f"/v1/alertmanager/{AM_KEY}", content=never_finished())
    assert (invalid.status_code, timed_out.status_code) == (400, 408)
    assert await _bytes_in_flight(0)


def _amplified(alerts: int, padding: int) -> bytes:
    """A small body whose common label is repeated into every alert's event."""
    alert = {"status": "firing", "startsAt": "2025-06-03T09:12:41Z"}
    payload = {
        "version": "4",
        "groupKey": "{}:{}",
        "status": "firing",
        "commonLabels": {"padding": "x" * padding},
        "alerts": [alert | {"labels": {"alertname": f"Budget{i}"}} for i in range(alerts)],
    }
    return json.dumps(payload, separators=(",", ":")).encode()


async def _fetched_since(world: SnsWorld, hits: int) -> bool:
    return world.host.hits[PEM_PATH] > hits


async def _bytes_in_flight(count: int) -> bool:
    return REGISTRY.get_sample_value("alertrouter_ingest_bytes_in_flight") == count


def _rejects(source: str, reason: str) -> float:
    return REGISTRY.get_sample_value("alertrouter_ingest_rejects_total", {"source": source, "reason": reason}) or 0.0


def test_a_budget_the_largest_request_would_not_fit_is_refused_at_startup(kafka_bootstrap: str) -> None:
    """Such a request would be answered 503 -- retry later -- for ever."""
    largest = 12 * 16_384 + 49_152
    limits = {"max_body_bytes": 16_384, "max_produced_bytes_per_request": 49_152}
    assert ingest_settings(kafka_bootstrap, max_in_flight_bytes=largest, **limits).max_in_flight_bytes == largest
    with pytest.raises(ValidationError, match="the largest request must fit"):
        ingest_settings(kafka_bootstrap, max_in_flight_bytes=largest - 1, **limits)
