"""``POST /v2/change/enqueue``: PagerDuty change events, recorded per service on the changes topic."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from alertrouter_shared.events import ChangeEvent
from alertrouter_shared.topics import CHANGES
from tests.helpers import TopicReader, eventually
from tests.ingest.conftest import EV2_UNBOUND_KEY, fixture_json

CHANGE = fixture_json("pagerduty/change-event.json")


@pytest.fixture(scope="module")
async def changes(kafka_bootstrap: str) -> AsyncIterator[TopicReader]:
    reader = await TopicReader(kafka_bootstrap, CHANGES).start()
    yield reader
    await reader.stop()


async def recorded(reader: TopicReader, summary: str) -> list[ChangeEvent]:
    async def found() -> list[ChangeEvent]:
        events = [ChangeEvent.model_validate_json(value) for value in reader.values]
        return [event for event in events if event.summary == summary]

    return await eventually(found, what=f"a change event {summary!r} on {CHANGES}")


async def test_change_event_is_recorded_for_the_integrations_service(
    client: httpx.AsyncClient, changes: TopicReader
) -> None:
    response = await client.post("/v2/change/enqueue", json=CHANGE)
    assert response.status_code == 202
    assert response.json() == {"status": "success", "message": "Change event processed"}
    (event,) = await recorded(changes, CHANGE["payload"]["summary"])
    assert event.service_id == "checkout"
    assert event.integration_id == "test-ev2"
    assert event.source == "github-actions/checkout-api/deploy-prod"
    assert event.occurred_at.isoformat() == "2025-06-03T09:00:12.315000+00:00"
    assert event.custom_details == CHANGE["payload"]["custom_details"]
    assert [(link.href, link.text) for link in event.links] == [
        ("https://github.example.com/shop/checkout-api/actions/runs/812", "Deploy run 812"),
        ("https://github.example.com/shop/checkout-api/compare/v2.2.4...v2.3.0", None),
    ]


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"payload": {"source": "ci"}}, "'payload.summary' is missing or blank"),
        ({"payload": {"summary": "x" * 1025}}, "'payload.summary' is too long (maximum is 1024 characters)"),
        ({"routing_key": "short"}, "Length of 'routing_key' is incorrect (should be 32 characters)"),
        (
            {"payload": {"summary": "bad\x00"}},
            "The change event cannot be recorded: summary: Value error, contains a NUL",
        ),
        (
            {"payload": {"summary": "s", "timestamp": "9999-12-31T23:59:59-23:59"}},
            "'payload.timestamp' is out of range",
        ),
        ({"routing_key": EV2_UNBOUND_KEY}, "integration is not bound to a service"),
        ({"links": [{"text": "no href"}]}, "'links[0].href' is missing or blank"),
    ],
)
async def test_invalid_change_events_get_pagerdutys_400_and_nothing_is_recorded(
    client: httpx.AsyncClient, changes: TopicReader, change: dict[str, Any], error: str
) -> None:
    before = len(changes.values)
    response = await client.post("/v2/change/enqueue", content=json.dumps(CHANGE | change).encode())
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "invalid event"
    assert body["message"] == "Event object is invalid"
    assert any(error in text for text in body["errors"]), body["errors"]
    sentinel = CHANGE | {"payload": CHANGE["payload"] | {"summary": f"after {error}"}}
    assert (await client.post("/v2/change/enqueue", json=sentinel)).status_code == 202
    await recorded(changes, f"after {error}")
    assert [json.loads(value)["summary"] for value in changes.values[before:]] == [f"after {error}"]


async def test_unknown_routing_key_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post("/v2/change/enqueue", json=CHANGE | {"routing_key": "f" * 32})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
