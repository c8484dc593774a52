"""The decision for an alert the database refused (``not_stored_decision``, pure): storable whatever the event held,
the refusal redacted and short, and readable as a paragraph."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import orjson
import pytest
from sqlalchemy import String

from alertrouter_router.db import tables
from alertrouter_router.decisions import DecisionKind, Outcome, derived_id
from alertrouter_router.decisions.explain import explain_text
from alertrouter_router.decisions.not_stored import (
    CONFIG_VERSION_CHARS,
    DEDUP_KEY_CHARS,
    NAME_CHARS,
    REFUSAL_CHARS,
    not_stored_decision,
    refusal_text,
)
from alertrouter_shared.events import AlertEvent
from alertrouter_shared.topics import ALERTS_DLQ
from tests.router.unit.decide_support import CONFIG, decision_row, event

EVENT_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")
CHECK = asyncpg.exceptions.CheckViolationError("refused by the test")


def _unvalidated(**values: Any) -> AlertEvent:
    """An event with values the contract would refuse (it reached the router all the same: an older ingest)."""
    return event("am:prod:abc", event_id=EVENT_ID).model_copy(update=values)


def test_the_decision_says_the_alert_was_not_stored_nobody_was_paged_and_where_it_went() -> None:
    decision = not_stored_decision(event("am:prod:abc", event_id=EVENT_ID), CHECK, ALERTS_DLQ, CONFIG)
    assert decision.outcome is Outcome.NOT_STORED and decision.kind is DecisionKind.EVENT
    assert decision.id == derived_id("not-stored", str(EVENT_ID))  # a redelivery writes it once
    # the event_id column marks an event decided: the event replayed once mended must be decided then
    assert decision.event_id is None and decision.explanation["event"]["event_id"] == str(EVENT_ID)
    assert decision.dedup_key == "am:prod:abc" and decision.service_id == "checkout"
    assert decision.team_id == "payments" and decision.config_version == CONFIG.version
    assert decision.reason == (
        "could not be stored, so nobody was paged: the database refused it (CheckViolationError (SQLSTATE 23514): "
        f"refused by the test); the event was sent to the dead-letter topic {ALERTS_DLQ}, to be mended and replayed"
    )
    assert decision.explanation["not_stored"] == {
        "error": "CheckViolationError (SQLSTATE 23514): refused by the test",
        "dead_letter_topic": ALERTS_DLQ,
    }
    text = explain_text(decision_row(decision))
    assert "It would have been routed to service checkout" in text and "It was routed" not in text
    assert "Outcome: not_stored — could not be stored, so nobody was paged" in text
    assert ALERTS_DLQ in text


@pytest.mark.parametrize(
    ("values", "field", "expected"),
    [
        ({"dedup_key": "am:\x00prod"}, "dedup_key", "am:prod"),
        ({"dedup_key": "k" * 5_000}, "dedup_key", "k" * DEDUP_KEY_CHARS),
        ({"dedup_key": "a\x00" * 600}, "dedup_key", "a" * DEDUP_KEY_CHARS),
        ({"dedup_key": "am:\udc80prod"}, "dedup_key", "am:?prod"),  # a lone surrogate does not encode as UTF-8
    ],
)
def test_what_the_database_may_have_refused_is_made_storable(values: dict[str, Any], field: str, expected: str) -> None:
    decision = not_stored_decision(_unvalidated(**values), CHECK, ALERTS_DLQ, CONFIG)
    assert getattr(decision, field) == expected


def test_no_nul_anywhere_in_the_explanation_or_reason() -> None:
    poison = _unvalidated(summary="down\x00", labels={"service": "checkout", "pod\x00": "a\x00b"})
    decision = not_stored_decision(poison, ValueError("bad \x00 byte in 'a\x00b'"), ALERTS_DLQ, CONFIG)
    stored = orjson.dumps(decision.as_explanation()).decode()
    assert "\\u0000" not in stored and "\x00" not in decision.reason
    assert decision.explanation["event"]["labels"] == {"service": "checkout", "pod": "ab"}
    stored.encode("utf-8")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (CHECK, "CheckViolationError (SQLSTATE 23514): refused by the test"),
        (ValueError(""), "ValueError"),
        (ValueError("line\n  two\x00"), "ValueError: line two"),
        (ValueError("for alice.smith@example.com"), "ValueError: for a***@example.com"),
        (ValueError("to +44 7700 900123 now"), "ValueError: to +********0123 now"),
        (
            ValueError("connect postgresql://router:hunter2@db:5432/x"),
            "ValueError: connect postgresql://router:***@db:5432/x",
        ),
        (ValueError("label password=hunter2 refused"), "ValueError: label password=[redacted] refused"),
        (ValueError('{"api_key": "sk-live-123"}'), 'ValueError: {"api_key": [redacted]}'),
        (ValueError("token abc, secret: 'x y'; ok"), "ValueError: token [redacted], secret: [redacted]; ok"),
        (ValueError("Authorization: Bearer abc.def"), "ValueError: Authorization: [redacted]"),
    ],
)
def test_the_refusal_is_redacted(error: BaseException, expected: str) -> None:
    assert refusal_text(error) == expected


def test_the_refusal_is_cut_short_without_losing_the_redaction() -> None:
    text = refusal_text(ValueError("x" * 10_000 + " bob@example.com"))
    assert len(text) == REFUSAL_CHARS and text.endswith("…")
    near_the_end = refusal_text(ValueError("y" * (REFUSAL_CHARS - 30) + " bob@example.com +1 555 123 4567"))
    assert "bob@" not in near_the_end and "555 123" not in near_the_end


@pytest.mark.parametrize(
    ("column", "size"),
    [
        ("dedup_key", DEDUP_KEY_CHARS),
        ("service_id", NAME_CHARS),
        ("team_id", NAME_CHARS),
        ("policy_id", NAME_CHARS),
        ("config_version", CONFIG_VERSION_CHARS),
    ],
)
def test_the_sizes_are_router_decision_s(column: str, size: int) -> None:
    kind = tables.decision.c[column].type
    assert isinstance(kind, String) and kind.length == size
