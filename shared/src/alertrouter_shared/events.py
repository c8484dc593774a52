"""Wire contracts between the three services (schema version 1).

Every record on a topic is one of these models serialised as JSON. Within version 1 only additive,
optional changes are allowed; a breaking change gets a new topic suffix and a new model beside this one.
Consumers validate straight from bytes with ``model_validate_json``.

An ``AlertEvent`` also carries the one validity rule of the contract (below): text that
PostgreSQL can store, timestamps that convert to UTC within a sane range, ``details`` nested at most 32 levels,
and a size limit per field. Ingest builds every event through this model before it answers, and the router decodes
every record through it, so an event ingest accepted is always one the router can decode and store.
"""

from __future__ import annotations

import math
import re
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

SCHEMA_VERSION: Literal[1] = 1

Labels = dict[str, str]

# ---------------------------------------------------------------------------------------------- validity rule
# What PostgreSQL refuses (a NUL character in text or jsonb; an unpaired UTF-16 surrogate cannot even be encoded
# as UTF-8), what cannot be converted to UTC, and what a JSON decoder stops at (deep nesting) must never reach the
# alerts topic: the sender would get a 2xx and nobody would be paged. Each limit is a hard ceiling of the contract;
# ingest's configurable limits stay at or below them.

MAX_ID_CHARS = 128
MAX_PAGE_ID_CHARS = 512  # incident, kind, position, user and contact method: the longest is about 330
MAX_DEDUP_KEY_CHARS = 512
MAX_SUMMARY_CHARS = 1024
MAX_LABELS = 256
MAX_LABEL_NAME_CHARS = 1024
MAX_LABEL_VALUE_CHARS = 128 * 1024
MAX_LINKS = 64
MAX_LINK_CHARS = 8192
MAX_DETAILS_DEPTH = 32
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)

_SURROGATE = re.compile("[\ud800-\udfff]")


def unstorable_reason(text: str) -> str | None:
    """Why PostgreSQL would refuse ``text`` (in a text or jsonb column), or None when it can store it."""
    if "\x00" in text:
        return "contains a NUL character (U+0000), which PostgreSQL cannot store"
    if not text.isascii() and _SURROGATE.search(text):
        return "contains an unpaired UTF-16 surrogate, which is not valid Unicode text"
    return None


def storable_text(text: str) -> str:
    """``text`` with what PostgreSQL cannot store (NUL, unpaired surrogates) replaced by U+FFFD: for text that is
    recorded as it came, such as a provider's answer in an error, where refusing it would lose the outcome."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if not text.isascii():
        text = _SURROGATE.sub("\ufffd", text)
    return text


def _storable(text: str) -> str:
    reason = unstorable_reason(text)
    if reason is not None:
        raise ValueError(reason)
    return text


def to_utc(value: datetime) -> datetime:
    """``value`` in UTC, or ValueError when it cannot be converted or lies outside 1970-2200."""
    try:
        converted = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the timestamp cannot be converted to UTC (out of range)") from None
    if not EARLIEST <= converted < LATEST:
        raise ValueError(f"the timestamp {converted.isoformat()} is outside {EARLIEST.year}-{LATEST.year}")
    return converted


def _label_map(labels: dict[str, str]) -> dict[str, str]:
    if len(labels) > MAX_LABELS:
        raise ValueError(f"{len(labels)} entries, over the limit of {MAX_LABELS}")
    if labels:
        if max(map(len, labels)) > MAX_LABEL_NAME_CHARS:
            raise ValueError(f"a name is over {MAX_LABEL_NAME_CHARS} characters")
        if max(map(len, labels.values())) > MAX_LABEL_VALUE_CHARS:
            raise ValueError(f"a value is over {MAX_LABEL_VALUE_CHARS} characters")
        reason = unstorable_reason("".join(labels) + "".join(labels.values()))
        if reason is not None:
            raise ValueError(f"a name or value {reason}")
    return labels


def _links(links: list[str]) -> list[str]:
    if len(links) > MAX_LINKS:
        raise ValueError(f"{len(links)} links, over the limit of {MAX_LINKS}")
    for link in links:
        if len(link) > MAX_LINK_CHARS:
            raise ValueError(f"a link is over {MAX_LINK_CHARS} characters")
        _storable(link)
    return links


def _details(details: dict[str, Any]) -> dict[str, Any]:
    """Nesting at most MAX_DETAILS_DEPTH, storable text in every key and string, finite numbers only.

    Every ingest event passes here, so the strings are collected and checked once, joined, in C.
    """
    strings: list[str] = []
    _collect(details, 1, strings)
    reason = unstorable_reason("".join(strings))
    if reason is not None:
        raise ValueError(f"a key or string {reason}")
    return details


def _collect(node: dict[Any, Any] | list[Any], depth: int, strings: list[str]) -> None:
    if depth > MAX_DETAILS_DEPTH:
        raise ValueError(f"nested more than {MAX_DETAILS_DEPTH} levels deep")
    if isinstance(node, dict):
        keys = list(node)
        if not all(type(key) is str for key in keys):
            raise ValueError("object keys must be strings")
        strings.extend(keys)
        values: Any = node.values()
    else:
        values = node
    for value in values:
        kind = type(value)
        if kind is str:
            strings.append(value)
        elif kind is dict or kind is list:
            _collect(value, depth + 1, strings)
        elif kind is float:
            if not math.isfinite(value):
                raise ValueError("numbers must be finite (PostgreSQL jsonb has no NaN or Infinity)")
        elif not (value is None or kind is bool or kind is int):
            if isinstance(value, str):
                strings.append(value)
            else:
                raise ValueError(f"{kind.__name__} is not a JSON value")


StorableText = Annotated[str, AfterValidator(_storable)]
UtcTimestamp = Annotated[AwareDatetime, AfterValidator(to_utc)]
LabelMap = Annotated[dict[str, str], AfterValidator(_label_map)]
Links = Annotated[list[str], AfterValidator(_links)]
Details = Annotated[dict[str, Any], AfterValidator(_details)]


class _Wire(BaseModel):
    """Base for wire models: unknown fields are kept out, values are frozen once built."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class AlertSource(StrEnum):
    ALERTMANAGER = "alertmanager"
    CLOUDWATCH = "cloudwatch"
    EVENTS_V2 = "events_v2"
    GRAFANA = "grafana"
    HEARTBEAT = "heartbeat"  # a beat: resolves "monitoring has gone silent" (dedup key hb:<integration>)
    DRILL = "drill"  # a drill's synthetic alert, raised by the router itself (dedup key drill:<service>:<run>)


def source_dedup_key(prefix: str, integration_id: str, key: str) -> str:
    """``<prefix>:<integration>:<the source's key>``, the integration's ``:`` written ``%3A``: ids may contain ``:``
    (and never ``%``), so otherwise integration ``shop`` sending key ``prod:db-down`` made the dedup key of
    integration ``shop:prod``'s ``db-down`` and could resolve or acknowledge its incidents. An id without ``:``
    keeps the key it always had."""
    return f"{prefix}:{integration_id.replace(':', '%3A')}:{key}"


def heartbeat_dedup_key(integration_id: str) -> str:
    """The alert a heartbeat integration raises when its beats stop (and each beat resolves)."""
    return f"hb:{integration_id}"


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
    integration_id: Annotated[StorableText, Field(min_length=1, max_length=MAX_ID_CHARS)]
    action: AlertAction
    dedup_key: Annotated[StorableText, Field(min_length=1, max_length=MAX_DEDUP_KEY_CHARS)]
    summary: Annotated[StorableText, Field(max_length=MAX_SUMMARY_CHARS)] = ""
    severity: Severity = Severity.CRITICAL
    labels: LabelMap = Field(default_factory=dict)
    annotations: LabelMap = Field(default_factory=dict)
    details: Details = Field(default_factory=dict)
    links: Links = Field(default_factory=list)
    bound_service: Annotated[StorableText, Field(max_length=MAX_ID_CHARS)] | None = None
    occurred_at: UtcTimestamp
    received_at: UtcTimestamp
    episode_started_at: UtcTimestamp | None = Field(
        None,
        description="when the source says this firing episode began (Alertmanager startsAt); a repeat of an "
        "episode already resolved carries the same instant and must not reopen it",
    )
    drill: bool = Field(
        False,
        description="a drill's synthetic alert: its incident is marked drill, every page says DRILL, and it never "
        "counts in incident metrics or default listings",
    )
    drill_ends_at: UtcTimestamp | None = Field(
        None,
        description="a drill's end (its time limit): the router resolves the drill's incident then if nobody has, "
        "and a drill alert routed after it pages nobody (added in 1.x; a drill event without it ends 30 minutes "
        "after it occurred)",
    )


class ChangeLink(_Wire):
    href: Annotated[StorableText, Field(min_length=1, max_length=MAX_LINK_CHARS)]
    text: Annotated[StorableText, Field(max_length=MAX_SUMMARY_CHARS)] | None = None


class ChangeEvent(_Wire):
    """A change to a service (a deploy, a configuration change): PagerDuty's change event, produced by ingest to
    the changes topic, keyed by service. Context for the responder, never a page."""

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    integration_id: Annotated[StorableText, Field(min_length=1, max_length=MAX_ID_CHARS)]
    service_id: Annotated[StorableText, Field(min_length=1, max_length=MAX_ID_CHARS)]
    summary: Annotated[StorableText, Field(min_length=1, max_length=MAX_SUMMARY_CHARS)]
    source: Annotated[StorableText, Field(max_length=MAX_SUMMARY_CHARS)] | None = None
    custom_details: Details = Field(default_factory=dict)
    links: Annotated[list[ChangeLink], Field(max_length=MAX_LINKS)] = Field(default_factory=list)
    occurred_at: UtcTimestamp
    received_at: UtcTimestamp


class ContactMethodType(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    SLACK = "slack"
    TEAMS = "teams"
    WEBHOOK = "webhook"
    VOICE = "voice"


class PageKind(StrEnum):
    """A trigger asks for action; acknowledged/resolved/escalated tell those already paged how the incident moved on;
    a shift reminder tells a person their on-call shift is about to start (or an override started one).

    ``escalated`` and ``shift_reminder`` were added within version 1 (additive): a notifier older than them cannot
    decode such a page and dead-letters it (never drops it), so notifiers are upgraded before routers.
    """

    TRIGGER = "trigger"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    DIGEST = "digest"
    ESCALATED = "escalated"
    SHIFT_REMINDER = "shift_reminder"


class ContactMethod(_Wire):
    """A contact method copied into the page at decision time, so the notifier never reads router state."""

    id: str
    type: ContactMethodType
    address: str


class PageAlert(_Wire):
    """One member alert of the paged incident, so the page can say what it carries."""

    dedup_key: str
    summary: str = ""


class PageShift(_Wire):
    """The on-call shift a ``shift_reminder`` page is about; instants in UTC, shown in ``time_zone`` (the person's)."""

    schedule_id: str
    schedule_name: str = ""
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    time_zone: str = "UTC"
    override: bool = Field(False, description="an override put the person on call (rather than their rotation)")
    change: Literal["stood_down", "new_end"] | None = Field(
        None,
        description="a change to a shift the person was told of: no longer theirs (stood_down), or ending at "
        "another time (new_end); none for the reminder itself",
    )


class Page(_Wire):
    """One notification to one user over one contact method: produced by the router, keyed by incident id.

    ``page_id`` is deterministic (incident, escalation step, user, contact method), so a republished page
    is recognised as the same page by the notifier.
    """

    schema_version: Literal[1] = SCHEMA_VERSION
    page_id: Annotated[str, Field(min_length=1, max_length=MAX_PAGE_ID_CHARS)]
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
    drill: bool = Field(False, description="a page of a drill: every channel marks the message DRILL")
    status_note: str = Field(
        "", description="what happened, for status updates: 'escalated to level 2: dan paged' (added in 1.x)"
    )
    shift: PageShift | None = Field(None, description="a shift_reminder's shift (added in 1.x)")


class DeliveryStatus(StrEnum):
    """A delivery attempt's outcome. ``cancelled`` (added within version 1): the page was not sent because its
    incident was acknowledged or resolved while it waited (queued, or for a retry) -- neither reached nor failed
    for good, so it never escalates. A router older than a status cannot decode such a result and dead-letters it
    (``alertrouter.deliveries.v1.dlq``, replayable): routers are upgraded before notifiers for a new status."""

    SENT = "sent"
    DELIVERED = "delivered"
    RETRYING = "retrying"
    FAILED = "failed"
    UNDELIVERED = "undelivered"
    EXPIRED = "expired"
    THROTTLED = "throttled"
    DUPLICATE = "duplicate"
    CANCELLED = "cancelled"


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
    user_id: str | None = Field(None, description="the person this delivery was for (absent from older notifiers)")
    contact_method_id: str | None = None
    failed_for_good: bool = Field(
        False,
        description="this contact method will not reach the person for this page and nothing more will be tried: "
        "undelivered, a permanent refusal, retries past the deadline, expired, voice busy/no-answer/failed",
    )
    failure_reason: str | None = Field(
        None,
        description="when failed_for_good: a short phrase for decisions, e.g. 'sms undelivered', 'voice no-answer'",
    )
