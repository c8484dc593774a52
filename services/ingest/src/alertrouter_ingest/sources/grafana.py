"""Grafana unified alerting's webhook contact point (payload ``version: "1"``) to alert events: one per alert.

Grafana's body is Alertmanager's webhook plus Grafana's own fields (``orgId``, ``title``, ``state``, ``message``;
per alert ``values``, ``valueString``, ``silenceURL``, ``dashboardURL``, ``panelURL``, ``imageURL``), so it is
parsed with the same strict types and caps as the Alertmanager intake.

Event rules (documented in docs/ingest.md):
- dedup key ``gf:<integration id>:<fingerprint>``; the fingerprint is opaque (Grafana computes it its own way;
  it is never recomputed or checked), and computed from the labels only when absent;
- action per alert status, except that a resolved group resolves every one of its alerts;
- labels and annotations: the group's common ones overlaid by the alert's (as for Alertmanager);
- links: generatorURL, dashboardURL, panelURL, imageURL, silenceURL -- each only when not empty;
- details keep ``values`` and ``valueString`` (what the rule evaluated), the URLs, startsAt/endsAt, and the group's
  key, receiver, title, state, orgId and truncatedAlerts (``message`` is Grafana's rendering of the same and is
  left out).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from alertrouter_ingest.sources.alertmanager import (
    MAX_EXTERNAL_URL_CHARS,
    MAX_GENERATOR_URL_CHARS,
    MAX_TRUNCATED_ALERTS,
    AlertmanagerAlert,
    AlertStatus,
    GroupLabels,
    alert_event,
    as_links,
    clipped,
    per_alert,
    stored_group_key,
)
from alertrouter_ingest.sources.errors import parse_model
from alertrouter_ingest.sources.limits import ContentLimits
from alertrouter_ingest.sources.normalise import clip
from alertrouter_shared.events import AlertEvent, AlertSource

SUPPORTED_VERSION = "1"
MAX_VALUE_STRING_CHARS = 16 * 1024
MAX_TITLE_CHARS = 4096
URL_FIELDS = ("generator_url", "dashboard_url", "panel_url", "image_url", "silence_url")


class GrafanaAlert(AlertmanagerAlert):
    """One alert of the group, with what Grafana adds."""

    silence_url: str = Field("", alias="silenceURL")
    dashboard_url: str = Field("", alias="dashboardURL")
    panel_url: str = Field("", alias="panelURL")
    image_url: str = Field("", alias="imageURL")
    values: dict[str, float | None] | None = Field(None, description="The rule's query and expression results")
    value_string: Annotated[str, clipped(MAX_VALUE_STRING_CHARS)] = Field("", alias="valueString")


class GrafanaWebhook(BaseModel):
    """The body of Grafana's webhook contact point."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, populate_by_name=True)

    version: str = Field(description='Always "1"')
    group_key: str = Field("", alias="groupKey", description="Any length; events keep at most 4096 characters of it")
    truncated_alerts: int = Field(0, ge=0, le=MAX_TRUNCATED_ALERTS, alias="truncatedAlerts")
    status: AlertStatus
    receiver: str = Field("", max_length=1024)
    org_id: int = Field(0, alias="orgId", ge=0, le=2**63 - 1)
    title: Annotated[str, clipped(MAX_TITLE_CHARS)] = ""
    state: str = Field("", max_length=64, description="alerting, ok, no_data, error, ...")
    group_labels: GroupLabels = Field(default_factory=dict, alias="groupLabels")
    common_labels: GroupLabels = Field(default_factory=dict, alias="commonLabels")
    common_annotations: GroupLabels = Field(default_factory=dict, alias="commonAnnotations")
    external_url: Annotated[str, clipped(MAX_EXTERNAL_URL_CHARS)] = Field("", alias="externalURL")
    alerts: list[GrafanaAlert]

    @field_validator("version")
    @classmethod
    def _supported_version(cls, value: str) -> str:
        if value != SUPPORTED_VERSION:
            raise ValueError(f"unsupported Grafana webhook payload version {value!r} (only {SUPPORTED_VERSION!r})")
        return value


def parse_grafana(body: bytes) -> GrafanaWebhook:
    return parse_model(GrafanaWebhook, body, "a Grafana webhook JSON object")


def normalise_grafana(
    webhook: GrafanaWebhook,
    *,
    integration_id: str,
    bound_service: str | None,
    received_at: datetime,
    limits: ContentLimits,
) -> Iterator[AlertEvent]:
    """One event per alert, built as the caller iterates; InvalidPayload refuses the whole request."""
    group = _group_details(webhook)

    def build(alert: GrafanaAlert, labels: dict[str, str], annotations: dict[str, str]) -> AlertEvent:
        urls = {name: url for name in URL_FIELDS if (url := getattr(alert, name)).strip()}
        shown = {name: clip(url, MAX_GENERATOR_URL_CHARS) for name, url in urls.items()}
        return alert_event(
            alert,
            source=AlertSource.GRAFANA,
            key_prefix="gf",
            resolved=webhook.status == "resolved" or alert.status == "resolved",
            labels=labels,
            annotations=annotations,
            details={"values": alert.values, "value_string": alert.value_string, **shown, **group},
            links=as_links(*urls.values()),
            integration_id=integration_id,
            bound_service=bound_service,
            received_at=received_at,
        )

    return per_alert(webhook.alerts, webhook.common_labels, webhook.common_annotations, limits, build)


def _group_details(webhook: GrafanaWebhook) -> dict[str, Any]:
    return {
        "group_key": stored_group_key(webhook.group_key),
        "receiver": webhook.receiver,
        "group_labels": webhook.group_labels,
        "external_url": webhook.external_url,
        "truncated_alerts": webhook.truncated_alerts,
        "org_id": webhook.org_id,
        "title": webhook.title,
        "state": webhook.state,
    }
