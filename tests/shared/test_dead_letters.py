"""Why a record is dead-lettered, as its ``error`` header says: the field and the rule, never the value."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from aiokafka import ConsumerRecord

from alertrouter_shared.dead_letters import decode_records
from alertrouter_shared.events import AlertAction, AlertEvent, AlertSource


def _record(value: bytes | None) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord("alerts", 0, 7, 0, 0, None, value, None, 0, len(value or b""), [])


def _event() -> bytes:
    now = datetime.now(UTC)
    event = AlertEvent(
        event_id=uuid.uuid4(),
        source=AlertSource.ALERTMANAGER,
        integration_id="am",
        action=AlertAction.TRIGGER,
        dedup_key="am:am:abc",
        summary="disk full",
        occurred_at=now,
        received_at=now,
    )
    return event.model_dump_json().encode()


def test_each_refused_record_says_which_field_and_why() -> None:
    good = _event()
    records = [
        _record(v) for v in (good, b"{not json", None, _event().replace(b'"trigger"', b'"page-alice-at-+447700900123"'))
    ]
    decoded, rejected = decode_records(records, AlertEvent, "AlertEvent v1")
    assert [record.value for _, record in decoded] == [good]
    reasons = [reason for _, reason in rejected]
    assert reasons[0].startswith("not a valid AlertEvent v1: Invalid JSON: ")
    assert reasons[1] == "empty record value"
    assert reasons[2].startswith("not a valid AlertEvent v1: action: Input should be ")
    assert "+447700900123" not in reasons[2]  # the value is not repeated (a label, an address may be personal)
