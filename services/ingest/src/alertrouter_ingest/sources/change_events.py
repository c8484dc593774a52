"""PagerDuty change events (``POST /v2/change/enqueue``) to change events, with PagerDuty's field rules.

A change event says something changed in a service (a deploy, a flag flipped); it never pages. It is recorded for
the integration's service and shown in the timeline of that service's incidents around the time of the change.

Rules (documented in docs/ingest.md): ``routing_key`` is an events_v2 integration key, and that integration must be
bound to a service (a change belongs to a service); ``payload.summary`` is required (at most 1024 characters);
``payload.source``, ``payload.timestamp`` (the receive time when absent), ``payload.custom_details`` and
``links`` (``href`` required, ``text`` optional) are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from alertrouter_ingest.sources.errors import describe_validation_error
from alertrouter_ingest.sources.events_v2 import (
    SUMMARY_MAX,
    EventRejected,
    json_object,
    objects_of,
    routing_key_of,
    timestamp_of,
)
from alertrouter_shared.events import ChangeEvent, ChangeLink

SUCCESS = {"status": "success", "message": "Change event processed"}


@dataclass(frozen=True)
class ChangeRequest:
    """A validated change event, still in PagerDuty's terms."""

    routing_key: str
    summary: str
    source: str | None
    timestamp: datetime | None
    custom_details: dict[str, Any]
    links: list[dict[str, Any]]


def parse_change(body: bytes) -> ChangeRequest:
    """The change event, or EventRejected listing every broken field in PagerDuty's words."""
    document = json_object(body, "a", "change event")
    errors: list[str] = []
    routing_key = routing_key_of(document.get("routing_key"), errors)
    payload = document.get("payload")
    if not isinstance(payload, dict):
        errors.append("'payload' is missing or not an object")
        payload = {}
    summary = payload.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        errors.append("'payload.summary' is missing or blank")
    elif len(summary) > SUMMARY_MAX:
        errors.append(f"'payload.summary' is too long (maximum is {SUMMARY_MAX} characters)")
    source = payload.get("source")
    if source is not None and not isinstance(source, str):
        errors.append("'payload.source' must be a string")
    details = payload.get("custom_details")
    if details is not None and not isinstance(details, dict):
        errors.append("'payload.custom_details' must be an object")
    timestamp = timestamp_of(payload.get("timestamp"), errors)
    links = objects_of(document.get("links"), "links", "href", errors)
    if errors or routing_key is None or not isinstance(summary, str):
        raise EventRejected(errors, routing_key)
    return ChangeRequest(
        routing_key, summary, source if isinstance(source, str) else None, timestamp, details or {}, links
    )


def change_event(request: ChangeRequest, *, integration_id: str, service_id: str, received_at: datetime) -> ChangeEvent:
    """The change event for the topic; EventRejected when it breaks the contract (for instance a NUL character)."""
    try:
        return ChangeEvent(
            integration_id=integration_id,
            service_id=service_id,
            summary=request.summary,
            source=request.source,
            custom_details=request.custom_details,
            links=[ChangeLink(href=link["href"], text=_text(link.get("text"))) for link in request.links],
            occurred_at=request.timestamp or received_at,
            received_at=received_at,
        )
    except ValidationError as exc:
        raise EventRejected([f"The change event cannot be recorded: {describe_validation_error(exc)}"]) from exc


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
