"""Rules every normaliser shares: severity words, summary length, the Go zero time, UTC timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from alertrouter_ingest.sources.errors import InvalidPayload, describe_validation_error
from alertrouter_shared.events import AlertEvent, Severity

SUMMARY_MAX_CHARS = 1024

# Words monitoring tools use for severity, mapped onto the four levels of the alert event. Anything else
# (or nothing) is CRITICAL: an alert whose urgency is unknown must not be quietly demoted.
_SEVERITY_WORDS: dict[str, Severity] = {
    **dict.fromkeys(
        ("critical", "crit", "page", "pager", "fatal", "emergency", "emerg", "alert", "p1"), Severity.CRITICAL
    ),
    **dict.fromkeys(("error", "err", "major", "high", "p2"), Severity.ERROR),
    **dict.fromkeys(("warning", "warn", "minor", "medium", "p3"), Severity.WARNING),
    **dict.fromkeys(("info", "informational", "notice", "low", "none", "ok", "debug", "p4", "p5"), Severity.INFO),
}


def severity_from_word(word: str | None) -> Severity:
    if not word:
        return Severity.CRITICAL
    return _SEVERITY_WORDS.get(word.strip().lower(), Severity.CRITICAL)


def clip(text: str, limit: int = SUMMARY_MAX_CHARS) -> str:
    """``text`` cut to ``limit`` characters, marking the cut with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_zero_time(value: datetime | None) -> bool:
    """Go's zero time (``0001-01-01T00:00:00Z``) means "no end" in Alertmanager payloads."""
    return value is None or value.year <= 1


def as_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def iso(value: datetime | None) -> str | None:
    if value is None or is_zero_time(value):
        return None
    return as_utc(value).isoformat()


def build_event(**fields: Any) -> AlertEvent:
    """The AlertEvent, or InvalidPayload (400) if the input cannot be one: never an unhandled 500."""
    try:
        return AlertEvent(**fields)
    except ValidationError as exc:
        raise InvalidPayload(
            f"the alert cannot be represented as an event: {describe_validation_error(exc)}", reason="unrepresentable"
        ) from exc
