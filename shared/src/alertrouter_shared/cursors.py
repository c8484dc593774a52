"""One opaque cursor for every paginated list of every service.

A list is ordered by a sort key and a unique tie-breaker (``(opened_at, id)``, or a ``seq`` that is unique by
itself), and a page continues strictly after the last row's key: rows with equal timestamps are neither skipped
nor repeated. The cursor is base64url of ``[list, key...]``; clients pass back ``next_cursor`` as it came and a
cursor of another list, or one not made here, is refused (the caller answers 422 problem+json).
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

import orjson

Key = str | int | datetime


class InvalidCursor(ValueError):
    def __init__(self) -> None:
        super().__init__("cursor: not a cursor this API returned (pass next_cursor back as it came)")


def encode_cursor(kind: str, *key: Key) -> str:
    """The cursor continuing after a row whose sort key (tie-breaker last) is ``key``."""
    values = [{"t": v.isoformat()} if isinstance(v, datetime) else v for v in key]
    return base64.urlsafe_b64encode(orjson.dumps([kind, *values])).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str, *types: type[Key]) -> tuple[Key, ...]:
    """The key a cursor of list ``kind`` carries, checked against the expected ``types`` (one per key part)."""
    try:
        raw = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor from exc
    if not isinstance(raw, list) or len(raw) != len(types) + 1 or raw[0] != kind:
        raise InvalidCursor
    return tuple(_typed(value, expected) for value, expected in zip(raw[1:], types, strict=True))


def seq_after(kind: str, cursor: str) -> int:
    """The ``seq`` a cursor of a list ordered by a unique sequence number continues after."""
    (seq,) = decode_cursor(kind, cursor, int)
    assert isinstance(seq, int)
    return seq


def instant_id_after(kind: str, cursor: str) -> tuple[datetime, str]:
    """The (instant, id) a cursor of a list ordered by a timestamp with the id as tie-breaker continues after."""
    at, row_id = decode_cursor(kind, cursor, datetime, str)
    assert isinstance(at, datetime) and isinstance(row_id, str)
    return at, row_id


_BIGINT = (-(2**63), 2**63 - 1)


def _storable_instant(at: datetime) -> bool:
    """An instant PostgreSQL can compare with: one with no UTC equivalent (year 9999 at -05:00) made a 500."""
    try:
        at.astimezone(UTC)
    except OverflowError:
        return False
    return True


def _typed(value: object, expected: type[Key]) -> Key:
    if expected is datetime:
        if not isinstance(value, dict) or not isinstance(value.get("t"), str):
            raise InvalidCursor
        try:
            at = datetime.fromisoformat(value["t"])
        except ValueError as exc:
            raise InvalidCursor from exc
        if at.tzinfo is None or not _storable_instant(at):
            raise InvalidCursor
        return at
    if type(value) is not expected:  # bool is not an int here
        raise InvalidCursor
    if isinstance(value, int) and not _BIGINT[0] <= value <= _BIGINT[1]:  # a seq column's range
        raise InvalidCursor
    assert isinstance(value, str | int)
    return value
