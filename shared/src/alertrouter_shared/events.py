"""Wire contracts between the three services (schema version 1).

Every record on a topic is one of these models serialised as JSON. Within version 1 only additive,
optional changes are allowed; a breaking change gets a new topic suffix and a new model beside this one.
Consumers validate straight from bytes with ``model_validate_json``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

SCHEMA_VERSION: Literal[1] = 1

Labels = dict[str, str]


class _Wire(BaseModel):
    """Base for wire models: unknown fields are kept out, values are frozen once built."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class AlertSource(StrEnum):
    ALERTMANAGER = "alertmanager"
    CLOUDWATCH = "cloudwatch"
    EVENTS_V2 = "events_v2"


class AlertAction(StrEnum):
    """What the source says about the problem identified by the dedup key."""

    TRIGGER = "trigger"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


class Severity(StrEnum):
    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class AlertEvent(_Wire):
    """One normalised alert event: produced by ingest to the alerts topic, keyed by ``dedup_key``."""

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    source: AlertSource
    integration_id: str
    action: AlertAction
    dedup_key: Annotated[str, Field(min_length=1, max_length=512)]
    summary: Annotated[str, Field(max_length=1024)] = ""
    severity: Severity = Severity.CRITICAL
    labels: Labels = Field(default_factory=dict)
    annotations: Labels = Field(default_factory=dict)
    details: dict[str, Any] = Field(default_factory=dict)
    links: list[str] = Field(default_factory=list)
    bound_service: str | None = None
    occurred_at: AwareDatetime
    received_at: AwareDatetime
    episode_started_at: AwareDatetime | None = Field(
        None,
        description="when the source says this firing episode began (Alertmanager startsAt); a repeat of an "
        "episode already resolved carries the same instant and must not reopen it",
    )


class ContactMethodType(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    SLACK = "slack"
    TEAMS = "teams"
    WEBHOOK = "webhook"


class PageKind(StrEnum):
    """A trigger asks for action; the others tell the paged person it is no longer needed."""

    TRIGGER = "trigger"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    DIGEST = "digest"


class ContactMethod(_Wire):
    """A contact method copied into the page at decision time, so the notifier never reads router state."""

    id: str
    type: ContactMethodType
    address: str


class PageAlert(_Wire):
    """One member alert of the paged incident, so the page can say what it carries."""

    dedup_key: str
    summary: str = ""


class Page(_Wire):
    """One notification to one user over one contact method: produced by the router, keyed by incident id.

    ``page_id`` is deterministic (incident, escalation step, user, contact method), so a republished page
    is recognised as the same page by the notifier.
    """

    schema_version: Literal[1] = SCHEMA_VERSION
    page_id: str
    kind: PageKind = PageKind.TRIGGER
    incident_id: str
    decision_id: str
    dedup_key: str
    service_id: str
    service_name: str = ""
    team_id: str
    user_id: str
    user_name: str = ""
    contact_method: ContactMethod
    escalation_level: int = 1
    summary: str = ""
    severity: Severity = Severity.CRITICAL
    labels: Labels = Field(default_factory=dict)
    runbook_url: str | None = None
    alert_count: int = Field(1, description="how many alerts the incident carries")
    alerts: list[PageAlert] = Field(default_factory=list, description="some of them (at most 10), newest last")
    send_at: AwareDatetime
    created_at: AwareDatetime


class DeliveryStatus(StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    RETRYING = "retrying"
    FAILED = "failed"
    UNDELIVERED = "undelivered"
    EXPIRED = "expired"
    THROTTLED = "throttled"
    DUPLICATE = "duplicate"


class DeliveryResult(_Wire):
    """The outcome of one delivery attempt: produced by the notifier to the deliveries topic."""

    schema_version: Literal[1] = SCHEMA_VERSION
    delivery_id: str
    page_id: str
    incident_id: str
    attempt: int = 1
    channel: ContactMethodType
    destination_masked: str
    status: DeliveryStatus
    provider: str = ""
    provider_message_id: str | None = None
    provider_status_code: str | None = None
    error: str | None = None
    latency_ms: float | None = None
    at: datetime
