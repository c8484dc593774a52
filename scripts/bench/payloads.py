"""Request bodies for the load: Alertmanager webhooks (alertrouter's ingest) and Alertmanager API v2 alerts.

Why templates rather than a JSON encoder: on a 2-core machine the load generator competes with the system it
measures, so a body is a few string substitutions. Every alert gets a distinct ``bench_id`` label (and, for the
webhook, a distinct fingerprint) so each one is a new alert, and the receiver maps a notification back to the
alert by that label.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

ALERT_NAME = "BenchAlert"
INGEST_PATH = "/v1/alertmanager/dev-alertmanager"
ALERTMANAGER_PATH = "/api/v2/alerts"


@dataclass(frozen=True)
class AlertId:
    """``bench_id`` label value and Alertmanager fingerprint (16 hex digits) of one generated alert."""

    bench_id: str
    fingerprint: str


class IdSource:
    """Distinct alert ids for one phase: ``<tag>-<n>``; the fingerprint encodes the phase number and n."""

    def __init__(self, tag: str, phase_number: int) -> None:
        if not 0 <= phase_number < 0x10000:
            raise ValueError("phase_number must fit in 4 hex digits")
        self.tag = tag
        self.phase_number = phase_number
        self.issued = 0

    def take(self, count: int) -> list[AlertId]:
        start = self.issued
        self.issued += count
        return [AlertId(f"{self.tag}-{n}", f"{self.phase_number:04x}{n:012x}") for n in range(start, start + count)]


def rfc3339_now(now: datetime | None = None) -> str:
    moment = now or datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def _quoted(value: str) -> str:
    return json.dumps(value)


def _webhook_alert(alert: AlertId, service: str, starts_at: str) -> str:
    bench_id = _quoted(alert.bench_id)
    return (
        '{"status":"firing","labels":{"alertname":"' + ALERT_NAME + '","service":' + _quoted(service) + ","
        '"severity":"critical","instance":' + _quoted("bench-" + alert.bench_id) + ',"bench_id":' + bench_id + "},"
        '"annotations":{"summary":' + _quoted(f"Bench alert {alert.bench_id} on {service}") + ","
        '"runbook_url":"https://runbooks.example.com/bench"},'
        '"startsAt":"' + starts_at + '","endsAt":"0001-01-01T00:00:00Z",'
        '"generatorURL":"http://prometheus.bench:9090/graph?g0.expr=bench_errors",'
        '"fingerprint":"' + alert.fingerprint + '"}'
    )


def alertmanager_webhook(alerts: Sequence[AlertId], service: str, now: datetime | None = None) -> bytes:
    """An Alertmanager v4 webhook body (what Alertmanager POSTs to alertrouter), one group of ``alerts``."""
    starts_at = rfc3339_now(now)
    service_json = _quoted(service)
    return (
        '{"version":"4","groupKey":"{}:{alertname=\\"' + ALERT_NAME + '\\"}","truncatedAlerts":0,'
        '"status":"firing","receiver":"alertrouter","groupLabels":{"alertname":"' + ALERT_NAME + '"},'
        '"commonLabels":{"alertname":"' + ALERT_NAME + '","service":' + service_json + ',"severity":"critical"},'
        '"commonAnnotations":{},"externalURL":"http://alertmanager.bench:9093","alerts":['
        + ",".join(_webhook_alert(alert, service, starts_at) for alert in alerts)
        + "]}"
    ).encode()


def alertmanager_api_alerts(alerts: Sequence[AlertId], service: str, now: datetime | None = None) -> bytes:
    """A ``POST /api/v2/alerts`` body for a real Alertmanager: the same labels, as Prometheus would send them."""
    starts_at = rfc3339_now(now)
    return (
        "["
        + ",".join(
            '{"labels":{"alertname":"' + ALERT_NAME + '","service":' + _quoted(service) + ","
            '"severity":"critical","instance":' + _quoted("bench-" + alert.bench_id) + ","
            '"bench_id":' + _quoted(alert.bench_id) + "},"
            '"annotations":{"summary":' + _quoted(f"Bench alert {alert.bench_id} on {service}") + "},"
            '"startsAt":"' + starts_at + '",'
            '"generatorURL":"http://prometheus.bench:9090/graph?g0.expr=bench_errors"}'
            for alert in alerts
        )
        + "]"
    ).encode()


def bench_ids_in_notification(body: object) -> tuple[str, list[str]]:
    """(kind, bench ids) of one notification the receiver got: an alertrouter page or an Alertmanager webhook.

    alertrouter's generic webhook carries one page (``page.labels`` are the alert's labels); Alertmanager's
    webhook carries a group of alerts. Anything else yields no ids.
    """
    if not isinstance(body, dict):
        return "unknown", []
    page = body.get("page")
    if isinstance(page, dict):
        labels = page.get("labels")
        bench_id = labels.get("bench_id") if isinstance(labels, dict) else None
        return str(page.get("kind", "page")), [bench_id] if isinstance(bench_id, str) else []
    alerts = body.get("alerts")
    if isinstance(alerts, list):
        ids = [
            a["labels"]["bench_id"]
            for a in alerts
            if isinstance(a, dict) and isinstance(a.get("labels"), dict) and "bench_id" in a["labels"]
        ]
        return str(body.get("status", "alertmanager")), ids
    return "unknown", []
