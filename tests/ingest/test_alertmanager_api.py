"""Alertmanager intake over HTTP, every fixture, with the events read back from the real alerts topic."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from tests.ingest.conftest import AM_KEY, CW_KEY, AlertsLog, fixture_bytes, fixture_json

GOOD = [
    "firing-single.json",
    "resolved.json",
    "firing-single-repeat-v0.34.json",
    "firing-group-3.json",
    "truncated.json",
    "mixed-firing-resolved.json",
]


def expected_event(
    payload: dict[str, Any], alert: dict[str, Any], integration: str, service: str | None
) -> dict[str, Any]:
    """The documented mapping, written out independently of the implementation."""
    labels = {**payload["commonLabels"], **alert["labels"]}
    annotations = {**payload["commonAnnotations"], **alert["annotations"]}
    firing = alert["status"] == "firing"
    details: dict[str, Any] = {
        "source_dedup_key": alert["fingerprint"],
        "status": alert["status"],
        "group_key": payload["groupKey"],
        "receiver": payload["receiver"],
        "group_labels": payload["groupLabels"],
        "external_url": payload["externalURL"],
        "truncated_alerts": payload["truncatedAlerts"],
    }
    if "notification_reason" in payload:
        details["notification_reason"] = payload["notification_reason"]
    return {
        "source": "alertmanager",
        "integration_id": integration,
        "action": "trigger" if firing else "resolve",
        "dedup_key": f"am:{integration}:{alert['fingerprint']}",
        "labels": labels,
        "annotations": annotations,
        "links": [alert["generatorURL"]] if alert["generatorURL"] else [],
        "bound_service": service,
        "details_subset": details,
    }


def assert_matches(event: dict[str, Any], expected: dict[str, Any]) -> None:
    details = expected.pop("details_subset")
    for name, value in expected.items():
        assert event[name] == value, name
    for name, value in details.items():
        assert event["details"][name] == value, f"details.{name}"


@pytest.mark.parametrize("name", GOOD)
async def test_every_good_fixture_is_accepted_and_each_alert_is_one_event_on_kafka(
    client: httpx.AsyncClient, alerts_log: AlertsLog, name: str
) -> None:
    payload = fixture_json(f"alertmanager/{name}")
    response = await client.post(
        f"/v1/alertmanager/{AM_KEY}",
        content=fixture_bytes(f"alertmanager/{name}"),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "accepted"
    assert [e["dedup_key"] for e in body["events"]] == [f"am:test-am:{a['fingerprint']}" for a in payload["alerts"]]
    records = await alerts_log.events(e["event_id"] for e in body["events"])
    for (key, event), alert in zip(records, payload["alerts"], strict=True):
        assert key == f"am:test-am:{alert['fingerprint']}".encode()
        assert_matches(event, expected_event(payload, alert, "test-am", "checkout"))


async def test_firing_single_produces_exactly_this_event(client: httpx.AsyncClient, alerts_log: AlertsLog) -> None:
    response = await client.post(f"/v1/alertmanager/{AM_KEY}", content=fixture_bytes("alertmanager/firing-single.json"))
    assert response.status_code == 202
    ((_, event),) = await alerts_log.events([response.json()["events"][0]["event_id"]])
    received_at = event.pop("received_at")
    assert received_at.endswith("Z") or received_at.endswith("+00:00")
    assert event.pop("event_id") == response.json()["events"][0]["event_id"]
    labels = {
        "alertname": "HighErrorRate",
        "cluster": "eu-west-1-prod",
        "env": "prod",
        "job": "checkout-api",
        "namespace": "shop",
        "service": "checkout-api",
        "severity": "critical",
        "team": "payments",
    }
    assert event == {
        "schema_version": 1,
        "source": "alertmanager",
        "integration_id": "test-am",
        "action": "trigger",
        "dedup_key": "am:test-am:87a9643cd6a8de19",
        "summary": "checkout-api 5xx ratio above 5% for 10m",
        "severity": "critical",
        "labels": labels,
        "annotations": {
            "description": "5xx ratio is 7.3% (threshold 5%) on service checkout-api in namespace shop.",
            "runbook_url": "https://runbooks.example.com/checkout/high-error-rate",
            "summary": "checkout-api 5xx ratio above 5% for 10m",
        },
        "details": {
            "source_dedup_key": "87a9643cd6a8de19",
            "status": "firing",
            "starts_at": "2025-06-03T09:12:41.503871+00:00",
            "ends_at": None,
            "group_key": '{}/{severity="critical"}:{alertname="HighErrorRate", service="checkout-api"}',
            "receiver": "pager-critical",
            "group_labels": {"alertname": "HighErrorRate", "service": "checkout-api"},
            "external_url": "http://alertmanager.monitoring.svc:9093",
            "truncated_alerts": 0,
        },
        "links": [fixture_json("alertmanager/firing-single.json")["alerts"][0]["generatorURL"]],
        "bound_service": "checkout",
        "occurred_at": "2025-06-03T09:12:41.503871Z",
        "episode_started_at": "2025-06-03T09:12:41.503871Z",
        "drill": False,
        "drill_ends_at": None,
    }


async def test_resolved_alert_resolves_the_same_dedup_key_at_its_end_time(
    client: httpx.AsyncClient, alerts_log: AlertsLog
) -> None:
    response = await client.post(f"/v1/alertmanager/{AM_KEY}", content=fixture_bytes("alertmanager/resolved.json"))
    ((_, event),) = await alerts_log.events([response.json()["events"][0]["event_id"]])
    assert event["action"] == "resolve"
    assert event["dedup_key"] == "am:test-am:87a9643cd6a8de19"
    assert event["details"]["starts_at"] == "2025-06-03T09:12:41.503871+00:00"
    assert event["details"]["ends_at"] == "2025-06-03T09:41:26.503871+00:00"
    assert event["occurred_at"] == "2025-06-03T09:41:26.503871Z"


async def test_mixed_group_acts_per_alert_not_on_the_group_status(
    client: httpx.AsyncClient, alerts_log: AlertsLog
) -> None:
    payload = fixture_json("alertmanager/mixed-firing-resolved.json")
    response = await client.post(
        f"/v1/alertmanager/{AM_KEY}", content=fixture_bytes("alertmanager/mixed-firing-resolved.json")
    )
    records = await alerts_log.events(e["event_id"] for e in response.json()["events"])
    assert payload["status"] == "firing"
    by_status = {alert["fingerprint"]: alert["status"] for alert in payload["alerts"]}
    assert [event["action"] for _, event in records] == [
        "resolve" if by_status[event["details"]["source_dedup_key"]] == "resolved" else "trigger"
        for _, event in records
    ]
    resolved = [event for _, event in records if event["action"] == "resolve"]
    assert len(resolved) == 1 and "pg-replica-1" in json.dumps(resolved[0]["labels"])
    assert resolved[0]["occurred_at"] == "2025-06-03T12:09:30Z"
    assert resolved[0]["details"]["ends_at"] == "2025-06-03T12:09:30+00:00"


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_truncated_alerts_are_counted_and_kept_in_details(
    client: httpx.AsyncClient, alerts_log: AlertsLog
) -> None:
    before = metric("alertrouter_ingest_alertmanager_truncated_alerts_total", integration="test-am")
    response = await client.post(f"/v1/alertmanager/{AM_KEY}", content=fixture_bytes("alertmanager/truncated.json"))
    assert response.status_code == 202
    records = await alerts_log.events(e["event_id"] for e in response.json()["events"])
    assert len(records) == 2
    assert all(event["details"]["truncated_alerts"] == 3 for _, event in records)
    assert metric("alertrouter_ingest_alertmanager_truncated_alerts_total", integration="test-am") == before + 3


async def test_a_long_generator_url_and_external_url_do_not_refuse_the_group(
    client: httpx.AsyncClient, alerts_log: AlertsLog
) -> None:
    """A rule whose PromQL expression runs to pages makes its generatorURL long: the notification was refused (400),
    never retried, and the group's alerts lost. The URL is left out of the links (a cut one leads nowhere)."""
    payload = fixture_json("alertmanager/firing-single.json")
    payload["externalURL"] = "http://alertmanager.example:9093/" + "a" * 3000
    long_url = "http://prometheus.example:9090/graph?g0.expr=" + "rate(x[5m])%20or%20" * 600
    payload["alerts"][0]["generatorURL"] = long_url
    response = await client.post(f"/v1/alertmanager/{AM_KEY}", json=payload)
    assert response.status_code == 202, response.text
    ((_, event),) = await alerts_log.events(e["event_id"] for e in response.json()["events"])
    assert event["links"] == []
    assert len(event["details"]["external_url"]) == 2048 and event["details"]["external_url"].endswith("…")


async def test_repeat_notification_keeps_the_dedup_key_and_episode(
    client: httpx.AsyncClient, alerts_log: AlertsLog
) -> None:
    first = await client.post(f"/v1/alertmanager/{AM_KEY}", content=fixture_bytes("alertmanager/firing-single.json"))
    repeat = await client.post(
        f"/v1/alertmanager/{AM_KEY}", content=fixture_bytes("alertmanager/firing-single-repeat-v0.34.json")
    )
    (_, a), (_, b) = await alerts_log.events(
        [first.json()["events"][0]["event_id"], repeat.json()["events"][0]["event_id"]]
    )
    assert a["dedup_key"] == b["dedup_key"]
    assert a["details"]["starts_at"] == b["details"]["starts_at"]
    assert b["details"]["notification_reason"] == "repeat interval elapsed"


async def test_unbound_integration_has_no_bound_service(client: httpx.AsyncClient, alerts_log: AlertsLog) -> None:
    response = await client.post(
        "/v1/alertmanager/test-am-unbound-key", content=fixture_bytes("alertmanager/firing-single.json")
    )
    ((_, event),) = await alerts_log.events([response.json()["events"][0]["event_id"]])
    assert event["bound_service"] is None
    assert event["dedup_key"] == "am:test-am-unbound:87a9643cd6a8de19"


async def test_alert_without_fingerprint_gets_alertmanagers_own(
    client: httpx.AsyncClient, alerts_log: AlertsLog
) -> None:
    payload = fixture_json("alertmanager/firing-group-3.json")
    expected = [a.pop("fingerprint") for a in payload["alerts"]]
    response = await client.post(f"/v1/alertmanager/{AM_KEY}", json=payload)
    assert response.status_code == 202
    assert [e["dedup_key"] for e in response.json()["events"]] == [f"am:test-am:{fp}" for fp in expected]


async def test_oversized_label_and_annotation_is_accepted_unchanged(
    client: httpx.AsyncClient, alerts_log: AlertsLog
) -> None:
    payload = fixture_json("bad/alertmanager-oversized-label-and-annotation.json")
    response = await client.post(
        f"/v1/alertmanager/{AM_KEY}", content=fixture_bytes("bad/alertmanager-oversized-label-and-annotation.json")
    )
    assert response.status_code == 202, response.text
    ((key, event),) = await alerts_log.events([response.json()["events"][0]["event_id"]])
    assert key == b"am:test-am:9454f7135e48ef93"
    assert event["labels"]["pod_template_hash"] == payload["alerts"][0]["labels"]["pod_template_hash"]
    assert len(event["annotations"]["description"]) == 65536
    assert len(event["summary"]) <= 1024


@pytest.mark.parametrize(
    ("name", "detail"),
    [
        ("alertmanager-malformed-truncated-body.json", "the body is not valid JSON"),
        ("alertmanager-empty-body.json", "the body is empty"),
        ("alertmanager-top-level-array.json", "body: Input should be an object"),
        ("alertmanager-wrong-version.json", "version: Value error, unsupported webhook payload version '3'"),
        ("alertmanager-missing-alerts.json", "alerts: Field required"),
        ("alertmanager-missing-status-and-groupkey.json", "groupKey: Field required; status: Field required"),
        ("alertmanager-alert-missing-labels.json", "alerts[0].labels: Field required"),
        ("alertmanager-wrong-type-labels-array.json", "alerts[0].labels: Input should be an object"),
        ("alertmanager-wrong-type-startsAt-number.json", "alerts[0].startsAt: Input should be a valid datetime"),
        (
            "alertmanager-wrong-type-truncatedAlerts-string-label-int.json",
            "truncatedAlerts: Input should be a valid integer",
        ),
        ("alertmanager-invalid-status-value.json", "status: Input should be 'firing' or 'resolved'"),
        ("alertmanager-invalid-timestamp-format.json", "alerts[0].startsAt: Input should be a valid datetime"),
    ],
)
async def test_every_bad_fixture_is_refused_with_400_naming_the_field_and_nothing_is_produced(
    client: httpx.AsyncClient, alerts_log: AlertsLog, name: str, detail: str
) -> None:
    before = await alerts_log.end_offsets()
    response = await client.post(
        f"/v1/alertmanager/{AM_KEY}", content=fixture_bytes(f"bad/{name}"), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 400 and problem["title"] == "Bad Request"
    assert detail in problem["detail"]
    assert await alerts_log.produced_since(before) == []


async def test_label_value_of_wrong_type_is_named_precisely(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"/v1/alertmanager/{AM_KEY}",
        content=fixture_bytes("bad/alertmanager-wrong-type-truncatedAlerts-string-label-int.json"),
    )
    assert "alerts[0].labels.replica: Input should be a valid string" in response.json()["detail"]


@pytest.mark.parametrize("key", ["no-such-key", "test-am-disabled-key", CW_KEY, "0123456789abcdef0123456789abcdef"])
async def test_unknown_disabled_or_foreign_key_is_404_and_nothing_is_produced(
    client: httpx.AsyncClient, alerts_log: AlertsLog, key: str
) -> None:
    before = await alerts_log.end_offsets()
    response = await client.post(f"/v1/alertmanager/{key}", content=fixture_bytes("alertmanager/firing-single.json"))
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert key not in response.text
    assert await alerts_log.produced_since(before) == []


async def test_key_as_bearer_token(client: httpx.AsyncClient, alerts_log: AlertsLog) -> None:
    response = await client.post(
        "/v1/alertmanager",
        content=fixture_bytes("alertmanager/firing-single.json"),
        headers={"Authorization": f"Bearer {AM_KEY}"},
    )
    assert response.status_code == 202
    ((_, event),) = await alerts_log.events([response.json()["events"][0]["event_id"]])
    assert event["integration_id"] == "test-am"


async def test_key_as_basic_auth_password(client: httpx.AsyncClient) -> None:
    credentials = base64.b64encode(f"test-am:{AM_KEY}".encode()).decode()
    response = await client.post(
        "/v1/alertmanager",
        content=fixture_bytes("alertmanager/firing-single.json"),
        headers={"Authorization": f"Basic {credentials}"},
    )
    assert response.status_code == 202
    assert response.json()["events"][0]["dedup_key"] == "am:test-am:87a9643cd6a8de19"


@pytest.mark.parametrize(
    ("header", "status"),
    [(None, 401), ("Bearer", 401), ("Basic !!notbase64", 401), ("Token abc", 401), ("Bearer wrong-key", 404)],
)
async def test_missing_or_wrong_authorization(client: httpx.AsyncClient, header: str | None, status: int) -> None:
    headers = {"Authorization": header} if header else {}
    response = await client.post(
        "/v1/alertmanager", content=fixture_bytes("alertmanager/firing-single.json"), headers=headers
    )
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    if status == 401:
        assert "Bearer" in response.headers["www-authenticate"]


async def test_truncated_alerts_beyond_any_real_count_is_400_and_nothing_is_produced(
    client: httpx.AsyncClient, alerts_log: AlertsLog
) -> None:
    """10^400 once made the metric overflow after the events were produced: a 500 for an accepted request."""
    payload = fixture_json("alertmanager/firing-single.json")
    before = await alerts_log.end_offsets()
    response = await client.post(
        f"/v1/alertmanager/{AM_KEY}", content=json.dumps(payload | {"truncatedAlerts": 10**400}).encode()
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("truncatedAlerts: Input should be less than or equal to 2147483647")
    assert await alerts_log.produced_since(before) == []


def all_labels_group_key(labels: dict[str, str]) -> str:
    """The groupKey of a route with ``group_by: ['...']``: every label of the alert (Alertmanager's LabelSet
    rendering: names sorted, values quoted)."""
    rendered = ", ".join(f"{name}={json.dumps(value)}" for name, value in sorted(labels.items()))
    return "{}/{}:{" + rendered + "}"


async def test_a_group_key_naming_every_label_is_accepted_and_stored_bounded(
    client: httpx.AsyncClient, alerts_log: AlertsLog
) -> None:
    """With group_by: ['...'] the oversized label is in groupKey too: 70 KB. Its 400 lost the group for good
    (Alertmanager does not retry 4xx); what is stored with each event is the key's start and its sha256."""
    payload = fixture_json("bad/alertmanager-oversized-label-and-annotation.json")
    labels = payload["alerts"][0]["labels"]
    payload["groupKey"] = all_labels_group_key(labels)
    payload["groupLabels"] = labels
    assert len(payload["groupKey"]) > 70_000
    response = await client.post(f"/v1/alertmanager/{AM_KEY}", json=payload)
    assert response.status_code == 202, response.text
    ((_, event),) = await alerts_log.events([response.json()["events"][0]["event_id"]])
    stored = event["details"]["group_key"]
    digest = hashlib.sha256(payload["groupKey"].encode()).hexdigest()
    assert len(stored) == 4096
    assert stored.endswith(f"…sha256:{digest}")
    assert payload["groupKey"].startswith(stored[: -len(f"…sha256:{digest}")])
    assert event["details"]["group_labels"] == labels


async def test_a_group_key_up_to_4096_characters_is_stored_whole(
    client: httpx.AsyncClient, alerts_log: AlertsLog
) -> None:
    payload = fixture_json("alertmanager/firing-single.json")
    payload["groupKey"] = all_labels_group_key(payload["alerts"][0]["labels"] | {"padding": "p" * 3500})[:4096]
    response = await client.post(f"/v1/alertmanager/{AM_KEY}", json=payload)
    assert response.status_code == 202, response.text
    ((_, event),) = await alerts_log.events([response.json()["events"][0]["event_id"]])
    assert event["details"]["group_key"] == payload["groupKey"]


@pytest.mark.parametrize(
    ("path", "fixture"),
    [(f"/v1/alertmanager/{AM_KEY}", "alertmanager/firing-group-3.json"), ("/v1/grafana/test-grafana-key", None)],
)
async def test_a_firing_alert_ending_past_2200_does_not_refuse_its_group(
    client: httpx.AsyncClient, alerts_log: AlertsLog, path: str, fixture: str | None
) -> None:
    """A firing alert's endsAt is in the future (Prometheus: a few evaluation intervals ahead); an alert posted to
    Alertmanager with a far end ("until resolved": 2999) kept it. That end is no time the event contract holds, and
    the group was refused with 400, never retried: every alert of it lost. It is kept as no end (like Go's zero)."""
    payload = fixture_json(fixture or "grafana/firing.json")
    payload["alerts"][0]["endsAt"] = "2999-12-31T00:00:00Z"
    response = await client.post(path, json=payload)
    assert response.status_code == 202, response.text
    records = await alerts_log.events(e["event_id"] for e in response.json()["events"])
    assert len(records) == len(payload["alerts"])
    first = records[0][1]
    assert first["action"] == "trigger"
    assert first["details"]["ends_at"] is None
    assert first["occurred_at"] == first["episode_started_at"]
