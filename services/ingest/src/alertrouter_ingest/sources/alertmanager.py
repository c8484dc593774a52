"""Prometheus Alertmanager webhook (payload version "4") to alert events: one event per alert.

Parsing is strict (no coercion: a label value 2 or ``truncatedAlerts: "0"`` is refused) and all-or-nothing: one
bad alert refuses the whole request, so nothing is half-processed.

Event rules (documented in docs/ingest.md):
- dedup key ``am:<integration id>:<fingerprint>``; the fingerprint is the alert's own, or -- when absent --
  computed from its labels exactly as Alertmanager does, so it is stable across restarts and replicas;
- action per alert status (not the group's): firing -> trigger, resolved -> resolve;
- labels = the group's commonLabels overlaid by the alert's labels; annotations likewise;
- ``occurred_at`` = startsAt when firing, endsAt when resolved (the receive time if a resolved alert has none);
- details keep startsAt/endsAt (``null`` for Go's zero time, or an end past 2200), the group key, receiver and
  truncatedAlerts.

What the group repeats into every alert's event (groupKey, externalURL, commonLabels, commonAnnotations) has a
size cap of its own, and events are built lazily, so the caller can stop at its produced-bytes limit. groupKey
is never refused for its length -- with ``group_by: ['...']`` Alertmanager writes every label into it, and a 4xx
is never retried -- but what each event keeps of it is bounded (``stored_group_key``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from alertrouter_ingest.sources.errors import InvalidPayload, parse_model
from alertrouter_ingest.sources.fingerprint import label_fingerprint
from alertrouter_ingest.sources.limits import ContentLimits
from alertrouter_ingest.sources.normalise import build_event, clip, is_zero_time, iso, severity_from_word
from alertrouter_shared.events import (
    MAX_LINK_CHARS,
    AlertAction,
    AlertEvent,
    AlertSource,
    UtcTimestamp,
    source_dedup_key,
    to_utc,
)

SUPPORTED_VERSION = "4"
MAX_STORED_GROUP_KEY_CHARS = 4096
MAX_EXTERNAL_URL_CHARS = 2048
MAX_GENERATOR_URL_CHARS = 8192


def clipped(limit: int) -> AfterValidator:
    """Display text kept to ``limit`` characters, not refused beyond: a sender never retries a 4xx, and a long
    title or URL (a template looping over the alerts) would lose every alert of the group."""
    return AfterValidator(lambda text: clip(text, limit))


MAX_GROUP_LABELS_CHARS = 256 * 1024  # names and values of commonLabels (or commonAnnotations, or groupLabels)
MAX_TRUNCATED_ALERTS = 2**31 - 1


def _end_time(value: datetime) -> datetime | None:
    """Go's zero time stays as sent (it means "no end"), and so does an end the event contract cannot hold (past
    2200: an alert posted to Alertmanager with a far end, "until resolved"): a firing alert's end is only shown, and
    refusing it would lose the whole group (a 4xx is never retried). Any other end time is converted to UTC."""
    if is_zero_time(value):
        return value
    try:
        return to_utc(value)
    except ValueError:
        return None


def _bounded_labels(labels: dict[str, str]) -> dict[str, str]:
    size = sum(map(len, labels)) + sum(map(len, labels.values()))
    if size > MAX_GROUP_LABELS_CHARS:
        raise ValueError(f"{size} characters of names and values, over the limit of {MAX_GROUP_LABELS_CHARS}")
    return labels


EndTime = Annotated[AwareDatetime, AfterValidator(_end_time)]
GroupLabels = Annotated[dict[str, str], AfterValidator(_bounded_labels)]

AlertStatus = Literal["firing", "resolved"]

A = TypeVar("A", bound="AlertmanagerAlert")

_STRICT = ConfigDict(strict=True, extra="ignore", frozen=True, populate_by_name=True)


class AlertmanagerAlert(BaseModel):
    """One alert of the group."""

    model_config = _STRICT

    status: AlertStatus = Field(description="Per-alert status; act on this, not on the group's")
    labels: dict[str, str] = Field(description="The alert's identity")
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: UtcTimestamp = Field(alias="startsAt", description="RFC 3339, up to 9 fractional digits")
    ends_at: EndTime | None = Field(
        None, alias="endsAt", description="RFC 3339; Go's zero time 0001-01-01T00:00:00Z while firing"
    )
    generator_url: str = Field("", alias="generatorURL", description="Any length; a link only up to 8192")
    fingerprint: str | None = Field(
        None, max_length=128, description="16 hex digits; computed from the labels when absent"
    )


class AlertmanagerWebhook(BaseModel):
    """The body Alertmanager's ``webhook_config`` receiver posts."""

    model_config = ConfigDict(
        strict=True,
        extra="ignore",
        frozen=True,
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "version": "4",
                    "groupKey": '{}/{severity="critical"}:{alertname="HighErrorRate"}',
                    "truncatedAlerts": 0,
                    "status": "firing",
                    "receiver": "alertrouter",
                    "groupLabels": {"alertname": "HighErrorRate"},
                    "commonLabels": {"alertname": "HighErrorRate", "service": "checkout", "severity": "critical"},
                    "commonAnnotations": {"summary": "checkout 5xx ratio above 5% for 10m"},
                    "externalURL": "http://alertmanager.example:9093",
                    "alerts": [
                        {
                            "status": "firing",
                            "labels": {"alertname": "HighErrorRate", "service": "checkout", "severity": "critical"},
                            "annotations": {"summary": "checkout 5xx ratio above 5% for 10m"},
                            "startsAt": "2025-06-03T09:12:41.50387125Z",
                            "endsAt": "0001-01-01T00:00:00Z",
                            "generatorURL": "http://prometheus.example:9090/graph?g0.expr=...",
                            "fingerprint": "87a9643cd6a8de19",
                        }
                    ],
                }
            ]
        },
    )

    version: str = Field(description='Always "4"')
    group_key: str = Field(alias="groupKey", description="Any length; events keep at most 4096 characters of it")
    truncated_alerts: int = Field(
        0, ge=0, le=MAX_TRUNCATED_ALERTS, alias="truncatedAlerts", description="Alerts left out by max_alerts"
    )
    status: AlertStatus
    receiver: str = Field("", max_length=1024)
    group_labels: GroupLabels = Field(default_factory=dict, alias="groupLabels")
    common_labels: GroupLabels = Field(default_factory=dict, alias="commonLabels")
    common_annotations: GroupLabels = Field(default_factory=dict, alias="commonAnnotations")
    external_url: Annotated[str, clipped(MAX_EXTERNAL_URL_CHARS)] = Field("", alias="externalURL")
    alerts: list[AlertmanagerAlert]
    notification_reason: str | None = Field(None, max_length=256, description="Alertmanager 0.32+")
    route_labels: dict[str, str] | None = Field(None, alias="routeLabels", description="Alertmanager 0.34+")

    @field_validator("version")
    @classmethod
    def _supported_version(cls, value: str) -> str:
        if value == "1":
            raise ValueError("version '1' is Grafana's webhook: send Grafana's webhook to /v1/grafana/{key}")
        if value != SUPPORTED_VERSION:
            raise ValueError(f"unsupported webhook payload version {value!r} (only {SUPPORTED_VERSION!r})")
        return value


def parse_webhook(body: bytes) -> AlertmanagerWebhook:
    return parse_model(AlertmanagerWebhook, body, "an Alertmanager webhook JSON object")


def normalise_webhook(
    webhook: AlertmanagerWebhook,
    *,
    integration_id: str,
    bound_service: str | None,
    received_at: datetime,
    limits: ContentLimits,
) -> Iterator[AlertEvent]:
    """One event per alert, built as the caller iterates; raises InvalidPayload (the whole request is refused)
    when any alert breaks a limit."""
    group_details = _group_details(webhook)

    def build(alert: AlertmanagerAlert, labels: dict[str, str], annotations: dict[str, str]) -> AlertEvent:
        return alert_event(
            alert,
            source=AlertSource.ALERTMANAGER,
            key_prefix="am",
            resolved=alert.status == "resolved",
            labels=labels,
            annotations=annotations,
            details=group_details,
            links=as_links(alert.generator_url),
            integration_id=integration_id,
            bound_service=bound_service,
            received_at=received_at,
        )

    return per_alert(webhook.alerts, webhook.common_labels, webhook.common_annotations, limits, build)


def per_alert(
    alerts: Sequence[A],
    common_labels: dict[str, str],
    common_annotations: dict[str, str],
    limits: ContentLimits,
    build: Callable[[A, dict[str, str], dict[str, str]], AlertEvent],
) -> Iterator[AlertEvent]:
    """The loop Alertmanager-shaped webhooks share: the group's common labels and annotations overlaid by each
    alert's, checked against the limits, and any error named by the alert's position."""
    limits.check_alert_count(len(alerts))
    for index, alert in enumerate(alerts):
        where = f"alerts[{index}]"
        labels = {**common_labels, **alert.labels}
        annotations = {**common_annotations, **alert.annotations}
        limits.check_labels(labels, f"{where}.labels")
        limits.check_annotations(annotations, f"{where}.annotations")
        try:
            yield build(alert, labels, annotations)
        except InvalidPayload as exc:
            raise InvalidPayload(f"{where}: {exc.detail}", status=exc.status, reason=exc.reason) from exc


def as_links(*urls: str) -> list[str]:
    """The URLs that can be an event's links: a longer one (a PromQL expression of pages) is left out, not cut (a
    cut URL leads nowhere), and not refused either: a 4xx is never retried, and the group's alerts would be lost."""
    return [url for url in urls if url.strip() and len(url) <= MAX_LINK_CHARS]


def stored_group_key(group_key: str) -> str:
    """``group_key`` whole up to 4096 characters; beyond, its start and the sha256 of all of it -- it is copied
    into every event of the group, and the digest still tells two long keys apart."""
    if len(group_key) <= MAX_STORED_GROUP_KEY_CHARS:
        return group_key
    digest = hashlib.sha256(group_key.encode("utf-8", "surrogatepass")).hexdigest()
    suffix = f"…sha256:{digest}"
    return group_key[: MAX_STORED_GROUP_KEY_CHARS - len(suffix)] + suffix


def _group_details(webhook: AlertmanagerWebhook) -> dict[str, Any]:
    details: dict[str, Any] = {
        "group_key": stored_group_key(webhook.group_key),
        "receiver": webhook.receiver,
        "group_labels": webhook.group_labels,
        "external_url": webhook.external_url,
        "truncated_alerts": webhook.truncated_alerts,
    }
    if webhook.notification_reason is not None:
        details["notification_reason"] = webhook.notification_reason
    return details


def alert_event(
    alert: AlertmanagerAlert,
    *,
    source: AlertSource,
    key_prefix: str,
    resolved: bool,
    labels: dict[str, str],
    annotations: dict[str, str],
    details: dict[str, Any],
    links: list[str],
    integration_id: str,
    bound_service: str | None,
    received_at: datetime,
) -> AlertEvent:
    """The event of one Alertmanager-shaped alert: dedup key from the fingerprint, occurred at its start (or its
    end, else the receive time, when resolved), its episode started at startsAt."""
    fingerprint = alert.fingerprint or label_fingerprint(alert.labels)
    ends_at = None if is_zero_time(alert.ends_at) else alert.ends_at
    return build_event(
        source=source,
        integration_id=integration_id,
        action=AlertAction.RESOLVE if resolved else AlertAction.TRIGGER,
        dedup_key=source_dedup_key(key_prefix, integration_id, fingerprint),
        summary=clip(alert_summary(labels, annotations)),
        severity=severity_from_word(labels.get("severity")),
        labels=labels,
        annotations=annotations,
        details={
            "source_dedup_key": fingerprint,
            "status": "resolved" if resolved else alert.status,
            "starts_at": iso(alert.starts_at),
            "ends_at": iso(ends_at),
            **details,
        },
        links=links,
        bound_service=bound_service,
        occurred_at=(ends_at or received_at) if resolved else alert.starts_at,
        received_at=received_at,
        episode_started_at=alert.starts_at,
    )


def alert_summary(labels: dict[str, str], annotations: dict[str, str]) -> str:
    """The summary annotation, else the description or message, else ``alertname on instance``."""
    for text in (annotations.get("summary"), annotations.get("description"), annotations.get("message")):
        if text and text.strip():
            return text.strip()
    name = labels.get("alertname", "Alertmanager alert")
    instance = labels.get("instance")
    return f"{name} on {instance}" if instance else name
