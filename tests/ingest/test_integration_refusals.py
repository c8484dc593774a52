"""Refusals of a configured integration are counted against it (``alertrouter_ingest_integration_refusals_total``)
and logged with their detail: its owners' alerts are lost while only the sender's logs say so. Refusals of requests
no integration is known for (an unknown key, a body that names none), and those a retry can end, are not.

In-process app on real Kafka; the counter is this process's.
"""

from __future__ import annotations

from typing import Any

import structlog
from prometheus_client import REGISTRY

from alertrouter_ingest.app import create_app
from alertrouter_ingest.publisher import Publisher
from tests.ingest.conftest import AM_KEY, EV2_KEY, fixture_bytes, fixture_json, ingest_settings, serve

JSON = {"Content-Type": "application/json"}


def _refusals(integration: str, reason: str) -> float:
    labels = {"integration": integration, "reason": reason}
    return REGISTRY.get_sample_value("alertrouter_ingest_integration_refusals_total", labels) or 0.0


def _refusals_of(integration: str) -> float:
    """Every refusal counted against ``integration``, whatever the reason."""
    total = 0.0
    for metric in REGISTRY.collect():
        if metric.name == "alertrouter_ingest_integration_refusals":
            for sample in metric.samples:
                if sample.name.endswith("_total") and sample.labels["integration"] == integration:
                    total += sample.value
    return total


def _invalid_event(routing_key: str) -> dict[str, Any]:
    event: dict[str, Any] = fixture_json("pagerduty/trigger.json")
    event["routing_key"] = routing_key
    event["payload"]["severity"] = "catastrophic"
    return event


async def test_a_configured_sources_invalid_payloads_are_counted_and_logged_against_its_integration(
    kafka_bootstrap: str, ingest_publisher: Publisher
) -> None:
    before_am = _refusals("test-am", "invalid_payload")
    before_ev2 = _refusals("test-ev2", "invalid_event")
    bad_alertmanager = fixture_bytes("bad/alertmanager-invalid-status-value.json")
    async with serve(create_app(ingest_settings(kafka_bootstrap), publisher=ingest_publisher)) as client:
        with structlog.testing.capture_logs() as logs:
            alertmanager = await client.post(f"/v1/alertmanager/{AM_KEY}", content=bad_alertmanager, headers=JSON)
            events_v2 = await client.post("/v2/enqueue", json=_invalid_event(EV2_KEY))
    assert (alertmanager.status_code, events_v2.status_code) == (400, 400)
    assert _refusals("test-am", "invalid_payload") == before_am + 1
    assert _refusals("test-ev2", "invalid_event") == before_ev2 + 1, "the key is read from the refused body"
    refused = [line for line in logs if line["event"] == "integration_request_refused"]
    assert [(line["integration"], line["status"], line["reason"]) for line in refused] == [
        ("test-am", 400, "invalid_payload"),
        ("test-ev2", 400, "invalid_event"),
    ]
    assert "status" in refused[0]["detail"], "the detail names the field, as the sender's answer does"
    assert AM_KEY not in str(refused) and EV2_KEY not in str(refused), "keys are never logged"


async def test_refusals_no_integration_is_known_for_or_a_retry_ends_are_not_counted_against_one(
    kafka_bootstrap: str, ingest_publisher: Publisher
) -> None:
    settings = ingest_settings(kafka_bootstrap, rate_limit_per_second=0.01, rate_limit_burst=1)
    firing = fixture_bytes("alertmanager/firing-single.json")
    before = {name: _refusals_of(name) for name in ("test-am", "test-ev2")}
    async with serve(create_app(settings, publisher=ingest_publisher)) as client:
        unknown_key = await client.post("/v1/alertmanager/no-such-key", content=firing, headers=JSON)
        no_key_in_body = await client.post("/v2/enqueue", content=b'{"routing_key": ', headers=JSON)
        unknown_routing_key = await client.post("/v2/enqueue", json=_invalid_event("f" * 32))
        accepted = await client.post(f"/v1/alertmanager/{AM_KEY}", content=firing, headers=JSON)
        rate_limited = await client.post(f"/v1/alertmanager/{AM_KEY}", content=firing, headers=JSON)
        ev2_accepted = await client.post("/v2/enqueue", json=fixture_json("pagerduty/trigger.json"))
        ev2_rate_limited = await client.post("/v2/enqueue", json=fixture_json("pagerduty/trigger.json"))
    statuses = [
        r.status_code for r in (unknown_key, no_key_in_body, unknown_routing_key, accepted, rate_limited, ev2_accepted)
    ]
    assert statuses == [404, 400, 400, 202, 503, 202]
    assert ev2_rate_limited.status_code == 429
    assert {name: _refusals_of(name) for name in ("test-am", "test-ev2")} == before
