"""PagerDuty Events API v2 (``POST /v2/enqueue``) to alert events, with PagerDuty's own field rules.

Validation is written out by hand rather than with a model because the answer must look like PagerDuty's: a 400
whose ``errors`` list names every broken field in PagerDuty's words, all at once.

Event rules (documented in docs/ingest.md):
- dedup key ``ev2:<integration id>:<dedup_key>``; a trigger without ``dedup_key`` gets a new UUID (hex), which
  the response returns, exactly like PagerDuty;
- trigger/acknowledge/resolve map to the same actions; acknowledge/resolve carry no payload;
- labels: ``source``, ``component``, ``group``, ``class`` from the payload, plus each top-level
  ``custom_details`` entry whose value is a string of at most 256 characters (key at most 64), as
  ``custom_details.<key>``, at most 32 of them in key order; everything else stays in ``details``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from alertrouter_ingest.sources.limits import ContentLimits
from alertrouter_ingest.sources.normalise import build_event
from alertrouter_shared.events import AlertAction, AlertEvent, AlertSource, Severity, source_dedup_key, to_utc

ROUTING_KEY_LENGTH = 32
DEDUP_KEY_MAX = 255
SUMMARY_MAX = 1024
ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
PAYLOAD_TEXT_FIELDS = ("component", "group", "class")
CUSTOM_LABEL_PREFIX = "custom_details."
CUSTOM_LABEL_MAX_VALUE = 256
CUSTOM_LABEL_MAX_KEY = 64
CUSTOM_LABEL_MAX_COUNT = 32

INVALID_STATUS = "invalid event"
INVALID_MESSAGE = "Event object is invalid"


class EventRejected(ValueError):
    """The event is invalid: PagerDuty's 400 body lists ``errors``. ``routing_key``: the body's, when well formed,
    so that the refusal can be counted against the integration it names."""

    def __init__(self, errors: list[str], routing_key: str | None = None) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors
        self.routing_key = routing_key


@dataclass(frozen=True)
class EnqueueRequest:
    """A validated event, still in PagerDuty's terms."""

    routing_key: str
    action: AlertAction
    dedup_key: str | None
    payload: dict[str, Any]
    client: str | None
    client_url: str | None
    links: list[dict[str, Any]]
    images: list[dict[str, Any]]


def json_object(body: bytes, article: str, what: str) -> dict[str, Any]:
    """The body's JSON object, or EventRejected in PagerDuty's words naming ``what`` was expected."""
    if not body.strip():
        raise EventRejected([f"The request body is empty; expected {article} {what} JSON object"])
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise EventRejected([f"The request body is not valid JSON: {exc}"]) from exc
    if not isinstance(document, dict):
        raise EventRejected([f"The {what} must be a JSON object"])
    return document


def parse_event(body: bytes) -> EnqueueRequest:
    document = json_object(body, "an", "event")
    errors: list[str] = []
    routing_key = routing_key_of(document.get("routing_key"), errors)
    action = _action(document.get("event_action"), errors)
    dedup_key = _dedup_key(document.get("dedup_key"), action, errors)
    payload: dict[str, Any] = {}
    if action is AlertAction.TRIGGER:
        payload = _payload(document.get("payload"), errors)
    client = _optional_text(document, "client", errors)
    client_url = _optional_text(document, "client_url", errors)
    links = objects_of(document.get("links"), "links", "href", errors)
    images = objects_of(document.get("images"), "images", "src", errors)
    if errors or routing_key is None or action is None:
        raise EventRejected(errors, routing_key)
    return EnqueueRequest(routing_key, action, dedup_key, payload, client, client_url, links, images)


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def routing_key_of(value: object, errors: list[str]) -> str | None:
    if _blank(value):
        errors.append("'routing_key' is missing or blank")
        return None
    if not isinstance(value, str):
        errors.append("'routing_key' must be a string")
        return None
    if len(value) != ROUTING_KEY_LENGTH:
        errors.append(f"Length of 'routing_key' is incorrect (should be {ROUTING_KEY_LENGTH} characters)")
    if not value.isascii() or not value.isalnum():
        errors.append("'routing_key' cannot contain non-alphanumeric characters.")
    return value


def _action(value: object, errors: list[str]) -> AlertAction | None:
    if _blank(value):
        errors.append("'event_action' is missing or blank")
        return None
    if value not in ACTIONS:
        errors.append(f"'event_action' is invalid (must be one of {', '.join(ACTIONS)})")
        return None
    return AlertAction(value)


def _dedup_key(value: object, action: AlertAction | None, errors: list[str]) -> str | None:
    if _blank(value):
        if action in (AlertAction.ACKNOWLEDGE, AlertAction.RESOLVE):
            errors.append(f"'dedup_key' is missing or blank (required for {action.value})")
        return None
    if not isinstance(value, str):
        errors.append("'dedup_key' must be a string")
        return None
    if len(value) > DEDUP_KEY_MAX:
        errors.append(f"'dedup_key' is too long (maximum is {DEDUP_KEY_MAX} characters)")
    return value


def _payload(value: object, errors: list[str]) -> dict[str, Any]:
    if value is None:
        errors.append("'payload' is missing (required for trigger)")
        return {}
    if not isinstance(value, dict):
        errors.append("'payload' must be an object")
        return {}
    summary = value.get("summary")
    if _blank(summary):
        errors.append("'payload.summary' is missing or blank")
    elif not isinstance(summary, str):
        errors.append("'payload.summary' must be a string")
    elif len(summary) > SUMMARY_MAX:
        errors.append(f"'payload.summary' is too long (maximum is {SUMMARY_MAX} characters)")
    source = value.get("source")
    if _blank(source):
        errors.append("'payload.source' is missing or blank")
    elif not isinstance(source, str):
        errors.append("'payload.source' must be a string")
    severity = value.get("severity")
    if _blank(severity):
        errors.append("'payload.severity' is missing or blank")
    elif severity not in SEVERITIES:
        errors.append(f"'payload.severity' is invalid (must be one of {', '.join(SEVERITIES)})")
    for name in PAYLOAD_TEXT_FIELDS:
        _optional_text(value, name, errors, prefix="payload.")
    details = value.get("custom_details")
    if details is not None and not isinstance(details, dict):
        errors.append("'payload.custom_details' must be an object")
    timestamp_of(value.get("timestamp"), errors)  # checked as PagerDuty does; the event is timed by its arrival
    return value


def timestamp_of(value: object, errors: list[str]) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        errors.append("'payload.timestamp' must be an ISO 8601 string")
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        errors.append("'payload.timestamp' is not a valid ISO 8601 timestamp")
        return None
    try:
        return to_utc(parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC))
    except ValueError as exc:
        errors.append(f"'payload.timestamp' is out of range: {exc}")
        return None


def _optional_text(document: dict[str, Any], name: str, errors: list[str], prefix: str = "") -> str | None:
    value = document.get(name)
    if value is not None and not isinstance(value, str):
        errors.append(f"'{prefix}{name}' must be a string")
        return None
    return value


def objects_of(value: object, name: str, required: str, errors: list[str]) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        errors.append(f"'{name}' must be an array")
        return []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            errors.append(f"'{name}[{index}]' must be an object")
        elif not isinstance(item.get(required), str) or not item[required]:
            errors.append(f"'{name}[{index}].{required}' is missing or blank")
    return value


def new_dedup_key() -> str:
    return uuid.uuid4().hex


def normalise_event(
    request: EnqueueRequest,
    *,
    dedup_key: str,
    integration_id: str,
    bound_service: str | None,
    received_at: datetime,
    limits: ContentLimits,
) -> AlertEvent:
    payload = request.payload
    labels = _labels(payload)
    limits.check_labels(labels, "labels")
    details: dict[str, Any] = {"source_dedup_key": dedup_key}
    for name in ("client", "client_url"):
        if getattr(request, name) is not None:
            details[name] = getattr(request, name)
    if payload:
        details["payload"] = payload
    if request.images:
        details["images"] = request.images
    if request.links:
        details["links"] = request.links
    return build_event(
        source=AlertSource.EVENTS_V2,
        integration_id=integration_id,
        action=request.action,
        dedup_key=source_dedup_key("ev2", integration_id, dedup_key),
        summary=payload.get("summary", ""),
        severity=Severity(payload.get("severity", Severity.CRITICAL)),
        labels=labels,
        details=details,
        links=[link["href"] for link in request.links] + ([request.client_url] if request.client_url else []),
        bound_service=bound_service,
        # Not payload.timestamp: the sender's clock (or a time without a zone, taken as UTC) against the receive
        # time of the resolve, which carries none, made a later trigger look older than that resolve: suppressed
        # out of order, nobody paged. PagerDuty orders by arrival too; the sender's time stays in details.payload.
        occurred_at=received_at,
        received_at=received_at,
    )


def _labels(payload: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for name in ("source", *PAYLOAD_TEXT_FIELDS):
        value = payload.get(name)
        if isinstance(value, str) and value:
            labels[name] = value
    custom = payload.get("custom_details")
    if isinstance(custom, dict):
        small = sorted(
            (key, value)
            for key, value in custom.items()
            if isinstance(value, str) and len(value) <= CUSTOM_LABEL_MAX_VALUE and 0 < len(key) <= CUSTOM_LABEL_MAX_KEY
        )
        for key, value in small[:CUSTOM_LABEL_MAX_COUNT]:
            labels[CUSTOM_LABEL_PREFIX + key] = value
    return labels


def rejection_body(errors: list[str]) -> dict[str, Any]:
    return {"status": INVALID_STATUS, "message": INVALID_MESSAGE, "errors": errors}


def success_body(dedup_key: str) -> dict[str, str]:
    return {"status": "success", "message": "Event processed", "dedup_key": dedup_key}
