"""Property tests: no input makes ingest answer 5xx (503 is the only, documented, exception), and every record
ingest produced while being fuzzed is a valid alert event."""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alertrouter_shared.events import AlertEvent
from tests.ingest.conftest import AM_KEY, CW_KEY, EV2_KEY, GRAFANA_KEY, AlertsLog, fixture_json

ALLOWED = {200, 202, 400, 401, 403, 404, 413, 415, 429}
FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
content_types = st.sampled_from(
    [None, "application/json", "text/plain", "application/x-www-form-urlencoded", "a/b+json", "garbage"]
)
AM_TEMPLATE = fixture_json("alertmanager/firing-group-3.json")
PD_TEMPLATE = fixture_json("pagerduty/trigger.json")
SNS_TEMPLATE = fixture_json("cloudwatch/sns-alarm-notification.json")
GRAFANA_TEMPLATE = fixture_json("grafana/firing.json")
CHANGE_TEMPLATE = fixture_json("pagerduty/change-event.json")


def mutate(document: Any, path: list[int], replacement: Any) -> Any:
    """Replace one node of ``document`` chosen by ``path`` (indices into keys/items) with ``replacement``."""
    if not path or not isinstance(document, dict | list) or not document:
        return replacement
    head, rest = path[0], path[1:]
    if isinstance(document, dict):
        keys = sorted(document)
        key = keys[head % len(keys)]
        return {**document, key: mutate(document[key], rest, replacement)}
    index = head % len(document)
    return [*document[:index], mutate(document[index], rest, replacement), *document[index + 1 :]]


async def send(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    content_type: str | None,
    extra: dict[str, str | bytes] | None = None,
) -> int:
    headers = [
        (name.encode(), value if isinstance(value, bytes) else value.encode()) for name, value in (extra or {}).items()
    ]
    if content_type is not None:
        headers.append((b"Content-Type", content_type.encode()))
    response = await client.post(url, content=body, headers=headers)
    assert response.status_code in ALLOWED or response.status_code == 503, (response.status_code, response.text)
    if response.status_code >= 400 and not url.startswith("/v2/"):
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"]
    return response.status_code


@FUZZ
@given(body=st.binary(max_size=300), content_type=content_types)
async def test_arbitrary_bytes_never_cause_a_server_error(
    client: httpx.AsyncClient, body: bytes, content_type: str | None
) -> None:
    await send(client, f"/v1/alertmanager/{AM_KEY}", body, content_type)
    await send(client, f"/v1/grafana/{GRAFANA_KEY}", body, content_type)
    await send(client, "/v2/enqueue", body, content_type)
    await send(client, "/v2/change/enqueue", body, content_type)
    await send(client, f"/v1/cloudwatch/{CW_KEY}", body, content_type, {"x-amz-sns-message-type": "Notification"})


@FUZZ
@given(value=json_values)
async def test_arbitrary_json_never_causes_a_server_error(client: httpx.AsyncClient, value: Any) -> None:
    body = json.dumps(value).encode()
    await send(client, f"/v1/alertmanager/{AM_KEY}", body, "application/json")
    await send(client, f"/v1/grafana/{GRAFANA_KEY}", body, "application/json")
    await send(client, "/v2/enqueue", body, "application/json")
    await send(client, "/v2/change/enqueue", body, "application/json")
    await send(client, f"/v1/cloudwatch/{CW_KEY}", body, "text/plain", {"x-amz-sns-message-type": "Notification"})


@FUZZ
@given(path=st.lists(st.integers(min_value=0, max_value=50), max_size=5), replacement=json_values)
async def test_mutated_alertmanager_payloads(client: httpx.AsyncClient, path: list[int], replacement: Any) -> None:
    body = json.dumps(mutate(AM_TEMPLATE, path, replacement)).encode()
    await send(client, f"/v1/alertmanager/{AM_KEY}", body, "application/json")


@FUZZ
@given(path=st.lists(st.integers(min_value=0, max_value=50), max_size=5), replacement=json_values)
async def test_mutated_grafana_payloads(client: httpx.AsyncClient, path: list[int], replacement: Any) -> None:
    body = json.dumps(mutate(GRAFANA_TEMPLATE, path, replacement)).encode()
    await send(client, f"/v1/grafana/{GRAFANA_KEY}", body, "application/json")


@FUZZ
@given(path=st.lists(st.integers(min_value=0, max_value=50), max_size=4), replacement=json_values)
async def test_mutated_change_events(client: httpx.AsyncClient, path: list[int], replacement: Any) -> None:
    event = mutate(CHANGE_TEMPLATE, path, replacement)
    if isinstance(event, dict):
        event["routing_key"] = EV2_KEY
    status = await send(client, "/v2/change/enqueue", json.dumps(event).encode(), "application/json")
    assert status in {202, 400, 404, 503}


@FUZZ
@given(path=st.lists(st.integers(min_value=0, max_value=50), max_size=4), replacement=json_values)
async def test_mutated_events_v2_payloads(client: httpx.AsyncClient, path: list[int], replacement: Any) -> None:
    event = mutate(PD_TEMPLATE, path, replacement)
    if isinstance(event, dict):
        event["routing_key"] = EV2_KEY  # reach the field rules; routing-key errors are covered elsewhere
    status = await send(client, "/v2/enqueue", json.dumps(event).encode(), "application/json")
    assert status in {202, 400, 404, 503}


@FUZZ
@given(path=st.lists(st.integers(min_value=0, max_value=50), max_size=2), replacement=json_values)
async def test_mutated_sns_messages(client: httpx.AsyncClient, path: list[int], replacement: Any) -> None:
    message = mutate(SNS_TEMPLATE, path, replacement)
    kind = message.get("Type") if isinstance(message, dict) else None
    status = await send(
        client,
        f"/v1/cloudwatch/{CW_KEY}",
        json.dumps(message).encode(),
        "text/plain; charset=UTF-8",
        {"x-amz-sns-message-type": kind.encode() if isinstance(kind, str) else b"Notification"},
    )
    assert status in {400, 403}  # never accepted: nothing here carries a valid signature


async def test_everything_produced_during_fuzzing_is_a_valid_alert_event(
    client: httpx.AsyncClient, alerts_log: AlertsLog
) -> None:
    """Runs after the fuzzers (file order): every record of ingest's test integrations parses as an AlertEvent."""
    assert await send(client, "/v2/enqueue", json.dumps(PD_TEMPLATE | {"routing_key": EV2_KEY}).encode(), None) == 202
    produced = await alerts_log.produced_since({})
    assert produced
    for value in produced:
        event = AlertEvent.model_validate_json(json.dumps(value))
        assert event.dedup_key.startswith(("am:", "gf:", "cw:", "ev2:"))
