"""Property: every request ingest answers 2xx produced events the router can decode and PostgreSQL can store.

Hypothesis sends Alertmanager, Grafana and Events v2 requests full of what once slipped through (NUL characters,
unpaired surrogates, timestamps that overflow on conversion to UTC or lie far outside any sane range, ``custom_details``
nested deeper than a JSON decoder goes, huge ``truncatedAlerts``) to the real app producing to the real broker.
For every 2xx, each produced record is read back byte for byte, decoded exactly as the router's pipeline decodes
it (``AlertEvent.model_validate_json``) and inserted into a real PostgreSQL, into columns of the types the
router stores events in (text, varchar(512), jsonb through ``json.dumps`` as SQLAlchemy does, timestamptz).
Every other answer must be a 4xx, and the last test checks that none of the refused requests produced anything.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alertrouter_shared.events import AlertEvent
from tests.helpers import DatabaseFactory
from tests.ingest.conftest import AM_KEY, EV2_KEY, GRAFANA_KEY, AlertsLog

PROPERTY = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
REFUSED_MARKERS: list[str] = []  # a unique token in every refused request; none may ever reach the topic
STORED: list[str] = []  # the source of every event stored

ACCEPTED_EVENTS = """
CREATE TABLE accepted_event (
    event_id uuid PRIMARY KEY,
    source text NOT NULL,
    integration_id text NOT NULL,
    action text NOT NULL,
    dedup_key varchar(512) NOT NULL,
    summary text NOT NULL,
    severity text NOT NULL,
    labels jsonb NOT NULL,
    annotations jsonb NOT NULL,
    details jsonb NOT NULL,
    links jsonb NOT NULL,
    bound_service text,
    occurred_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    episode_started_at timestamptz,
    whole jsonb NOT NULL
)
"""

# ---------------------------------------------------------------------------------------------- strategies

ODD_TEXT = ["", "\x00", "a\x00b", "\ud800", "\udfff x", "é", "\U0001f600", "\u2028", "\\u0000", "\x7f\x1b"]
texts = st.text(st.characters(exclude_categories=[]), max_size=12) | st.sampled_from(ODD_TEXT)
ZONES = [UTC, timezone(timedelta(hours=23, minutes=59)), timezone(-timedelta(hours=23, minutes=59))]
timestamps = st.one_of(
    st.datetimes(
        min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59), timezones=st.sampled_from(ZONES)
    ).map(datetime.isoformat),
    st.sampled_from(
        [
            "9999-12-31T23:59:59-23:59",
            "0001-01-01T00:00:00+23:59",
            "0001-01-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
            "1970-01-01T00:00:00Z",
            "2199-12-31T23:59:59+00:00",
            "2200-01-01T00:00:00Z",
            "2025-06-03T09:12:41.50387125Z",
        ]
    ),
)
leaves = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False) | texts
)


def nest(depth: int, leaf: Any) -> Any:
    for level in range(depth):
        leaf = {"n": leaf} if level % 2 else [leaf]
    return leaf


json_values = st.recursive(
    leaves, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3), max_leaves=8
) | st.builds(nest, st.integers(0, 40), leaves)
label_maps = st.dictionaries(texts, texts, max_size=4)


@st.composite
def alertmanager_webhooks(draw: st.DrawFn, marker: str) -> dict[str, Any]:
    alerts = []
    for _ in range(draw(st.integers(1, 3))):
        alert: dict[str, Any] = {
            "status": draw(st.sampled_from(["firing", "resolved"])),
            "labels": {**draw(label_maps), "alertname": marker},
            "annotations": draw(label_maps),
            "startsAt": draw(timestamps),
            "endsAt": draw(st.sampled_from(["0001-01-01T00:00:00Z"]) | timestamps),
            "generatorURL": draw(texts),
        }
        if draw(st.booleans()):
            alert["fingerprint"] = draw(texts)
        alerts.append(alert)
    return {
        "version": "4",
        "groupKey": draw(texts),
        "truncatedAlerts": draw(st.integers(0, 5) | st.sampled_from([2**31 - 1, 2**31, 2**64, 10**400])),
        "status": "firing",
        "receiver": draw(texts),
        "groupLabels": draw(label_maps),
        "commonLabels": draw(label_maps),
        "commonAnnotations": draw(label_maps),
        "externalURL": draw(texts),
        "alerts": alerts,
    }


@st.composite
def grafana_webhooks(draw: st.DrawFn, marker: str) -> dict[str, Any]:
    webhook = draw(alertmanager_webhooks(marker)) | {"version": "1", "orgId": draw(st.integers(0, 2**70))}
    webhook |= {"title": draw(texts), "state": draw(st.sampled_from(["alerting", "ok", "no_data"])), "message": ""}
    for alert in webhook["alerts"]:
        for name in ("silenceURL", "dashboardURL", "panelURL", "imageURL", "valueString"):
            alert[name] = draw(texts)
        alert["values"] = draw(st.none() | st.dictionaries(texts, st.none() | st.floats(allow_nan=False), max_size=3))
    return webhook


@st.composite
def enqueue_events(draw: st.DrawFn, marker: str) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "summary": draw(texts.filter(lambda t: t.strip() != "")),
        "source": draw(texts.filter(lambda t: t.strip() != "")),
        "severity": draw(st.sampled_from(["critical", "error", "warning", "info"])),
        "custom_details": draw(st.dictionaries(texts, json_values, max_size=3)),
    }
    for name in ("timestamp", "component", "group", "class"):
        if draw(st.booleans()):
            payload[name] = draw(timestamps if name == "timestamp" else texts)
    return {
        "routing_key": EV2_KEY,
        "event_action": draw(st.sampled_from(["trigger", "trigger", "acknowledge", "resolve"])),
        "dedup_key": draw(texts) + marker,
        "payload": payload,
        "links": draw(st.lists(st.fixed_dictionaries({"href": texts.filter(bool)}), max_size=2)),
        "client_url": draw(texts),
    }


# ---------------------------------------------------------------------------------------------- the store


@pytest.fixture(scope="module")
async def store(databases: DatabaseFactory) -> AsyncIterator[asyncpg.Connection]:
    url = databases.create().replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(url)
    await connection.execute(ACCEPTED_EVENTS)
    yield connection
    await connection.close()


def _decimal_json(text: str) -> Any:
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


async def store_as_the_router_would(store: asyncpg.Connection, raw: bytes) -> None:
    event = AlertEvent.model_validate_json(raw)  # the router's decode (pipeline._decode)
    as_json = event.model_dump(mode="json")
    await store.execute(
        "INSERT INTO accepted_event VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        event.event_id,
        event.source.value,
        event.integration_id,
        event.action.value,
        event.dedup_key,
        event.summary,
        event.severity.value,
        json.dumps(event.labels),
        json.dumps(event.annotations),
        json.dumps(event.details),
        json.dumps(event.links),
        event.bound_service,
        event.occurred_at,
        event.received_at,
        event.episode_started_at,
        json.dumps(as_json),
    )
    stored = await store.fetchval("SELECT whole FROM accepted_event WHERE event_id = $1", event.event_id)
    # jsonb keeps numbers as decimals (5.078232646502305e+16 comes back as 50782326465023050): compare them as such
    assert _decimal_json(stored) == _decimal_json(json.dumps(as_json))
    STORED.append(event.source.value)


# ---------------------------------------------------------------------------------------------- properties


WEBHOOK_INTAKES = {
    "alertmanager": (f"/v1/alertmanager/{AM_KEY}", alertmanager_webhooks),
    "grafana": (f"/v1/grafana/{GRAFANA_KEY}", grafana_webhooks),
}


@pytest.mark.parametrize("intake", sorted(WEBHOOK_INTAKES))
@PROPERTY
@given(data=st.data())
async def test_every_accepted_webhook_request_is_decodable_and_storable(
    client: httpx.AsyncClient, alerts_log: AlertsLog, store: asyncpg.Connection, intake: str, data: st.DataObject
) -> None:
    path, webhooks = WEBHOOK_INTAKES[intake]
    marker = uuid.uuid4().hex
    webhook = data.draw(webhooks(marker))
    response = await client.post(path, content=json.dumps(webhook).encode())
    assert response.status_code in {202, 400, 413}, response.text
    if response.status_code != 202:
        assert response.headers["content-type"] == "application/problem+json"
        REFUSED_MARKERS.append(marker)
        return
    event_ids = [ref["event_id"] for ref in response.json()["events"]]
    assert len(event_ids) == len(webhook["alerts"])
    for raw in await alerts_log.raw_events(event_ids):
        await store_as_the_router_would(store, raw)


@PROPERTY
@given(data=st.data())
async def test_every_accepted_events_v2_request_is_decodable_and_storable(
    client: httpx.AsyncClient, alerts_log: AlertsLog, store: asyncpg.Connection, data: st.DataObject
) -> None:
    marker = uuid.uuid4().hex
    event = data.draw(enqueue_events(marker))
    response = await client.post("/v2/enqueue", content=json.dumps(event).encode())
    assert response.status_code in {202, 400}, response.text
    if response.status_code != 202:
        assert response.json()["status"] == "invalid event"
        REFUSED_MARKERS.append(marker)
        return
    dedup_key = response.json()["dedup_key"]
    for raw in await alerts_log.raw_events(await alerts_log.event_ids_for(f"ev2:test-ev2:{dedup_key}")):
        await store_as_the_router_would(store, raw)


@pytest.mark.parametrize(
    ("path", "body", "detail"),
    [
        (
            f"/v1/alertmanager/{AM_KEY}",
            {"summary": "NUL\x00"},
            "alerts[0]: the alert cannot be represented as an event: summary: Value error, contains a NUL character",
        ),
        ("/v2/enqueue", {"summary": "NUL\x00"}, "summary: Value error, contains a NUL character"),
        ("/v2/enqueue", {"timestamp": "9999-12-31T23:59:59-23:59"}, "'payload.timestamp' is out of range"),
        ("/v2/enqueue", {"custom_details": {"deep": nest(200, 1)}}, "details: Value error, nested more than 32"),
    ],
)
async def test_the_reported_cases_are_refused_with_the_reason(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], detail: str
) -> None:
    """The inputs of the issue that got a 2xx and then were dead-lettered by the router."""
    if path.startswith("/v2/"):
        payload = {"summary": "s", "source": "x", "severity": "critical", **body}
        request: dict[str, Any] = {"routing_key": EV2_KEY, "event_action": "trigger", "payload": payload}
    else:
        alert = {
            "status": "firing",
            "labels": {"alertname": "A"},
            "annotations": body,
            "startsAt": "2025-06-03T09:12:41Z",
        }
        request = {"version": "4", "groupKey": "g", "status": "firing", "alerts": [alert]}
    response = await client.post(path, content=json.dumps(request).encode())
    assert response.status_code == 400
    text = response.text if path.startswith("/v2/") else response.json()["detail"]
    assert detail in text


async def test_nothing_of_a_refused_request_reached_the_topic(client: httpx.AsyncClient, alerts_log: AlertsLog) -> None:
    """Runs after the properties (file order): no record carries the marker of a request answered 4xx."""
    assert REFUSED_MARKERS, "the properties refused nothing: the strategies no longer reach the validity rule"
    assert {"alertmanager", "grafana", "events_v2"} <= set(STORED), "the properties stored nothing of one intake"
    produced = await alerts_log.produced_since({})
    text = json.dumps(produced)
    assert [marker for marker in REFUSED_MARKERS if marker in text] == []
