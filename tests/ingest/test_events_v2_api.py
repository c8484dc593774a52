"""PagerDuty Events API v2 intake: PagerDuty's field rules and bodies, events read back from Kafka."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from tests.ingest.conftest import AlertsLog, fixture_bytes, fixture_json

SUCCESS = fixture_json("pagerduty/response-202-accepted.json")


async def post_event(client: httpx.AsyncClient, event: dict[str, Any] | bytes) -> httpx.Response:
    if isinstance(event, bytes):
        return await client.post("/v2/enqueue", content=event, headers={"Content-Type": "application/json"})
    return await client.post("/v2/enqueue", json=event)


async def test_full_trigger_returns_pagerdutys_exact_body_and_produces_this_event(
    client: httpx.AsyncClient, alerts_log: AlertsLog
) -> None:
    before = await alerts_log.end_offsets()
    response = await post_event(client, fixture_bytes("pagerduty/trigger.json"))
    assert response.status_code == 202
    assert response.headers["content-type"] == "application/json"
    assert response.json() == SUCCESS
    produced = await alerts_log.produced_since(before)
    assert len(produced) == 1
    event = produced[0]
    trigger = fixture_json("pagerduty/trigger.json")
    event.pop("event_id")
    # timed by its arrival, as PagerDuty orders events; the sender's payload.timestamp stays in details.payload
    assert event.pop("occurred_at") == event.pop("received_at")
    assert event == {
        "schema_version": 1,
        "source": "events_v2",
        "integration_id": "test-ev2",
        "action": "trigger",
        "dedup_key": "ev2:test-ev2:prod/checkout-api/HighErrorRate",
        "summary": "[prod] checkout-api 5xx ratio 7.3% > 5% for 10m",
        "severity": "critical",
        "labels": {
            "source": "checkout-api.shop.svc.cluster.local",
            "component": "checkout-api",
            "group": "shop",
            "class": "http 5xx ratio",
            "custom_details.runbook_url": "https://runbooks.example.com/checkout/high-error-rate",
            "custom_details.window": "10m",
        },
        "annotations": {},
        "details": {
            "source_dedup_key": "prod/checkout-api/HighErrorRate",
            "client": "Example Monitoring",
            "client_url": "https://monitoring.example.com",
            "payload": trigger["payload"],
            "images": trigger["images"],
            "links": trigger["links"],
        },
        "links": ["https://runbooks.example.com/checkout/high-error-rate", "https://monitoring.example.com"],
        "bound_service": "checkout",
        "episode_started_at": None,
        "drill": False,
        "drill_ends_at": None,
    }


@pytest.mark.parametrize(("name", "action"), [("acknowledge.json", "acknowledge"), ("resolve.json", "resolve")])
async def test_acknowledge_and_resolve_are_accepted_even_for_unknown_keys(
    client: httpx.AsyncClient, alerts_log: AlertsLog, name: str, action: str
) -> None:
    event = fixture_json(f"pagerduty/{name}")
    event["dedup_key"] = f"never-triggered-{uuid.uuid4().hex}"
    before = await alerts_log.end_offsets()
    response = await post_event(client, event)
    assert response.status_code == 202
    assert response.json() == {"status": "success", "message": "Event processed", "dedup_key": event["dedup_key"]}
    (produced,) = await alerts_log.produced_since(before)
    assert produced["action"] == action
    assert produced["dedup_key"] == f"ev2:test-ev2:{event['dedup_key']}"
    assert produced["summary"] == ""
    assert produced["labels"] == {}


@pytest.mark.parametrize(("name", "action"), [("acknowledge.json", "acknowledge"), ("resolve.json", "resolve")])
async def test_fixture_acknowledge_and_resolve(client: httpx.AsyncClient, name: str, action: str) -> None:
    response = await post_event(client, fixture_bytes(f"pagerduty/{name}"))
    assert response.status_code == 202
    assert response.json() == SUCCESS


async def test_trigger_without_dedup_key_gets_a_new_unique_key_each_time(
    client: httpx.AsyncClient, alerts_log: AlertsLog
) -> None:
    first = await post_event(client, fixture_bytes("pagerduty/trigger-minimal-no-dedup-key.json"))
    second = await post_event(client, fixture_bytes("pagerduty/trigger-minimal-no-dedup-key.json"))
    keys = [r.json()["dedup_key"] for r in (first, second)]
    assert all(r.status_code == 202 for r in (first, second))
    assert all(re.fullmatch(r"[0-9a-f]{32}", key) for key in keys)
    assert keys[0] != keys[1]
    assert first.json() == {"status": "success", "message": "Event processed", "dedup_key": keys[0]}


async def test_minimal_trigger_event_has_receive_time_and_severity(
    client: httpx.AsyncClient, alerts_log: AlertsLog
) -> None:
    before = await alerts_log.end_offsets()
    response = await post_event(client, fixture_bytes("pagerduty/trigger-minimal-no-dedup-key.json"))
    (event,) = await alerts_log.produced_since(before)
    assert event["dedup_key"] == f"ev2:test-ev2:{response.json()['dedup_key']}"
    assert event["severity"] == "warning"
    assert event["occurred_at"] == event["received_at"]
    assert event["labels"] == {"source": "db-03.example.internal"}


@pytest.mark.parametrize(
    ("name", "errors"),
    [
        ("pagerduty-missing-routing-key.json", ["'routing_key' is missing or blank"]),
        (
            "pagerduty-routing-key-wrong-length.json",
            [
                "Length of 'routing_key' is incorrect (should be 32 characters)",
                "'routing_key' cannot contain non-alphanumeric characters.",
            ],
        ),
        (
            "pagerduty-invalid-event-action.json",
            ["'event_action' is invalid (must be one of trigger, acknowledge, resolve)"],
        ),
        (
            "pagerduty-invalid-severity.json",
            ["'payload.severity' is invalid (must be one of critical, error, warning, info)"],
        ),
        ("pagerduty-summary-1025-chars.json", ["'payload.summary' is too long (maximum is 1024 characters)"]),
        ("pagerduty-dedup-key-256-chars.json", ["'dedup_key' is too long (maximum is 255 characters)"]),
        ("pagerduty-trigger-missing-payload.json", ["'payload' is missing (required for trigger)"]),
        ("pagerduty-trigger-missing-source.json", ["'payload.source' is missing or blank"]),
        (
            "pagerduty-acknowledge-missing-dedup-key.json",
            ["'dedup_key' is missing or blank (required for acknowledge)"],
        ),
        ("pagerduty-custom-details-not-object.json", ["'payload.custom_details' must be an object"]),
    ],
)
async def test_every_bad_fixture_gets_pagerdutys_400_body_and_nothing_is_produced(
    client: httpx.AsyncClient, alerts_log: AlertsLog, name: str, errors: list[str]
) -> None:
    before = await alerts_log.end_offsets()
    response = await post_event(client, fixture_bytes(f"bad/{name}"))
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
    assert await alerts_log.produced_since(before) == []


async def test_reference_400_shape_matches_the_fixture(client: httpx.AsyncClient) -> None:
    event = fixture_json("pagerduty/trigger.json")
    event["routing_key"] = "0123456789abcdef0123456789abcde"  # 31 alphanumeric characters
    response = await post_event(client, event)
    assert response.json() == fixture_json("pagerduty/response-400-invalid-event.json")


async def test_all_problems_are_listed_at_once(client: httpx.AsyncClient) -> None:
    response = await post_event(client, {"event_action": "trigger", "payload": {"summary": ""}})
    assert response.json()["errors"] == [
        "'routing_key' is missing or blank",
        "'payload.summary' is missing or blank",
        "'payload.source' is missing or blank",
        "'payload.severity' is missing or blank",
    ]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"", "The request body is empty; expected an event JSON object"),
        (b"[1, 2]", "The event must be a JSON object"),
        (b'{"routing_key": ', "The request body is not valid JSON"),
    ],
)
async def test_malformed_bodies_are_400_in_pagerdutys_shape(client: httpx.AsyncClient, body: bytes, error: str) -> None:
    response = await post_event(client, body)
    assert response.status_code == 400
    assert response.json()["status"] == "invalid event"
    assert response.json()["errors"][0].startswith(error)


@pytest.mark.parametrize("key", ["ffffffffffffffffffffffffffffffff", "disabled00000000000000000000000x"])
async def test_unknown_or_disabled_routing_key_is_404_and_nothing_is_produced(
    client: httpx.AsyncClient, alerts_log: AlertsLog, key: str
) -> None:
    event = fixture_json("pagerduty/trigger.json")
    event["routing_key"] = key
    before = await alerts_log.end_offsets()
    response = await post_event(client, event)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert await alerts_log.produced_since(before) == []


async def test_type_errors_are_reported_not_crashed_on(client: httpx.AsyncClient) -> None:
    event = {
        "routing_key": 12,
        "event_action": "trigger",
        "dedup_key": 5,
        "payload": {"summary": 1, "source": ["x"], "severity": "info", "component": 3, "timestamp": "yesterday"},
        "links": "x",
        "images": [{"alt": "no src"}],
        "client": 1,
    }
    response = await post_event(client, event)
    assert response.status_code == 400
    assert response.json()["errors"] == [
        "'routing_key' must be a string",
        "'dedup_key' must be a string",
        "'payload.summary' must be a string",
        "'payload.source' must be a string",
        "'payload.component' must be a string",
        "'payload.timestamp' is not a valid ISO 8601 timestamp",
        "'client' must be a string",
        "'links' must be an array",
        "'images[0].src' is missing or blank",
    ]
