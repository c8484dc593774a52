"""Delivery rows and their attempt records: insertion (idempotent) and outcomes (claims: ``claims``).

Every function takes an open connection inside the caller's transaction, so one business step commits as a
whole: a delivery's new state and the attempt row that reports it (the outbox of the deliveries topic).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from alertrouter_notifier.db.tables import (
    PROVIDER_MESSAGE_ID_CHARS,
    PROVIDER_STATUS_CODE_CHARS,
    RowState,
    attempt,
    delivery,
)
from alertrouter_notifier.destination import mask_destination, throttle_key
from alertrouter_notifier.policy import DeliveryPolicy
from alertrouter_shared.events import DeliveryStatus, Page, storable_text


@dataclass(frozen=True)
class NewDelivery:
    id: str
    page: Page
    status: RowState
    throttle_key: str
    due: bool
    deadline_at: datetime
    failover_at: datetime


@dataclass(frozen=True)
class ClaimedDelivery:
    id: str
    page: Page
    attempt: int
    provider_slot: int
    deadline_at: datetime
    failover_at: datetime


@dataclass(frozen=True)
class AttemptRecord:
    """One outcome to store (and publish); the provider's id and code are cut to what their columns hold."""

    status: DeliveryStatus
    provider: str = ""
    provider_message_id: str | None = None
    provider_status_code: str | None = None
    error: str | None = None
    latency_ms: float | None = None

    def __post_init__(self) -> None:
        """A value the columns cannot hold failed the whole batch's outcome statement, so every send in it was sent
        again when its lease ran out: a longer one (a receiver's 300-character X-Request-Id), or a NUL character
        (a receiver's error body, quoted in ``error``)."""
        for name, limit in _TEXT_FIELDS:
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, storable_text(value)[:limit])


_TEXT_FIELDS = (
    ("provider", None),
    ("provider_message_id", PROVIDER_MESSAGE_ID_CHARS),
    ("provider_status_code", PROVIDER_STATUS_CODE_CHARS),
    ("error", None),
)


def new_delivery_row(page: Page, now: datetime, policy: DeliveryPolicy, *, claim: bool = False) -> dict[str, Any]:
    """The row of a new delivery: ``pending`` (the durable queue), ``expired``, or with ``claim`` (a page due now
    whose sender has a free slot) already ``sending`` under its first attempt's lease: no claim statement."""
    expired = policy.is_expired(page, now)
    start = max(now, page.send_at)
    claimed = claim and not expired and start <= now
    return {
        "id": uuid.uuid4().hex,
        "page_id": page.page_id,
        "contact_method_id": page.contact_method.id,
        "incident_id": page.incident_id,
        "user_id": page.user_id,
        "kind": page.kind.value,
        "channel": page.contact_method.type.value,
        "destination_masked": mask_destination(page.contact_method),
        "throttle_key": throttle_key(page.contact_method),
        "page": orjson.Fragment(page.model_dump_json()),  # serialised once, by pydantic, into the JSONB column
        "status": (RowState.EXPIRED if expired else RowState.SENDING if claimed else RowState.PENDING).value,
        "attempt_count": 1 if claimed else 0,
        "lease_until": now + policy.send_lease if claimed else None,
        "next_attempt_at": None if expired else start,
        "deadline_at": start + policy.retry_deadline,
        "failover_at": start + policy.failover_after,
        "created_at": now,
        "updated_at": now,
    }


_INSERT_DELIVERIES = (
    insert(delivery)
    .on_conflict_do_nothing(constraint="uq_notifier_delivery_page_contact")
    .returning(delivery.c.id, delivery.c.status, delivery.c.throttle_key, delivery.c.next_attempt_at)
)


async def insert_deliveries(
    conn: AsyncConnection, entries: Sequence[tuple[Page, dict[str, Any]]], now: datetime
) -> list[NewDelivery]:
    """Insert what is new; a page already recorded for this contact method is silently skipped (idempotency).

    One statement built once and run with the rows as parameters (SQLAlchemy's insertmanyvalues), so its compiled
    form is cached whatever the batch size; the pages the caller holds are kept, not validated again.
    """
    if not entries:
        return []
    inserted = {r.id for r in await conn.execute(_INSERT_DELIVERIES, [row for _, row in entries])}
    return [
        NewDelivery(
            id=row["id"],
            page=page,
            status=RowState(row["status"]),
            throttle_key=row["throttle_key"],
            due=row["next_attempt_at"] is not None and row["next_attempt_at"] <= now,
            deadline_at=row["deadline_at"],
            failover_at=row["failover_at"],
        )
        for page, row in entries
        if row["id"] in inserted
    ]


async def add_attempt(
    conn: AsyncConnection, delivery_id: str, number: int, record: AttemptRecord, now: datetime
) -> int:
    statement = (
        attempt.insert()
        .values(
            delivery_id=delivery_id,
            attempt=number,
            status=record.status.value,
            provider=record.provider,
            provider_message_id=record.provider_message_id,
            provider_status_code=record.provider_status_code,
            error=record.error,
            latency_ms=record.latency_ms,
            at=now,
        )
        .returning(attempt.c.id)
    )
    return int((await conn.execute(statement)).scalar_one())


class LeaseLost(Exception):
    """The claim this outcome belongs to was taken over (its lease ran out): the newer claim decides."""


def _held(delivery_id: str, number: int) -> Any:
    """The row is still in the claim numbered ``number`` (fencing: a stale claim can never record over a newer one)."""
    return (delivery.c.id == delivery_id) & (delivery.c.attempt_count == number) & (delivery.c.status == "sending")


async def _update_held(conn: AsyncConnection, delivery_id: str, number: int, values: dict[str, Any]) -> None:
    result = await conn.execute(delivery.update().where(_held(delivery_id, number)).values(**values))
    if not result.rowcount:
        raise LeaseLost(f"delivery {delivery_id} attempt {number} no longer holds its claim")


def _final_values(record: AttemptRecord, now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {
        "status": record.status.value,
        "next_attempt_at": None,
        "lease_until": None,
        "last_error": record.error,
        "updated_at": now,
    }
    if record.provider:
        values |= {
            "provider": record.provider,
            "provider_message_id": record.provider_message_id,
            "provider_status_code": record.provider_status_code,
        }
    if record.status is DeliveryStatus.SENT:
        values["sent_at"] = now
    return values


@dataclass(frozen=True)
class Outcome:
    """A send's outcome to store: final (``next_attempt_at`` None) or a retry at ``next_attempt_at``."""

    claimed: ClaimedDelivery
    record: AttemptRecord
    next_attempt_at: datetime | None
    provider_slot: int


_STORE = """
WITH published AS (
    UPDATE notifier_attempt SET published_at = :now WHERE id = ANY(CAST(:published AS bigint[]))
), i AS (
    SELECT * FROM unnest(
        CAST(:ids AS text[]), CAST(:attempts AS int[]), CAST(:row_status AS text[]), CAST(:status AS text[]),
        CAST(:next_at AS timestamptz[]), CAST(:slot AS int[]), CAST(:provider AS text[]),
        CAST(:message_id AS text[]), CAST(:code AS text[]), CAST(:error AS text[]), CAST(:latency AS float8[]),
        CAST(:final AS bool[])
    ) AS t(id, attempt, row_status, status, next_at, slot, provider, message_id, code, error, latency, final)
), held AS (
    UPDATE notifier_delivery AS d SET
        status = i.row_status, next_attempt_at = i.next_at, lease_until = NULL, provider_slot = i.slot,
        provider = CASE WHEN i.provider <> '' THEN i.provider ELSE d.provider END,
        provider_message_id = CASE WHEN i.provider <> '' AND i.final THEN i.message_id ELSE d.provider_message_id END,
        provider_status_code = CASE WHEN i.provider <> '' THEN i.code ELSE d.provider_status_code END,
        last_error = i.error, updated_at = :now,
        sent_at = CASE WHEN i.status = 'sent' THEN :now ELSE d.sent_at END
    FROM i
    WHERE d.id = i.id AND d.attempt_count = i.attempt AND coalesce(d.status, '') = 'sending'
    RETURNING d.id, d.attempt_count
)
INSERT INTO notifier_attempt
    (delivery_id, attempt, status, provider, provider_message_id, provider_status_code, error, latency_ms, at)
SELECT i.id, i.attempt, i.status, i.provider, i.message_id, i.code, i.error, i.latency, :now
FROM i JOIN held ON held.id = i.id AND held.attempt_count = i.attempt
RETURNING id, delivery_id, attempt
"""
_STORE_STATEMENT = text(_STORE)  # built once: text() parses its binds on construction
# The claim's fence reads ``coalesce(d.status, '')`` (status is never null) so that no index on status can serve
# it and each row is found by its primary key. With ``d.status = 'sending'`` the planner preferred
# ix_notifier_delivery_due for the few rows in flight, but that range keeps one dead entry for every delivery
# sent since the last vacuum: 82 million index entries read in one benchmark run at 500 alerts/s.


async def store_outcomes(
    conn: AsyncConnection, outcomes: Sequence[Outcome], now: datetime, published: Sequence[int] = ()
) -> dict[tuple[str, int], int]:
    """The outcomes of a batch of sends -- each final or a retry -- as ONE statement, each fenced by its claim.

    ``published``: attempt ids whose results earlier batches published since; marked in the same statement (at
    any rate the marks of one batch ride on the next batch's write instead of a statement of their own).

    The fenced UPDATE and the attempt rows are one ``WITH ... INSERT`` over arrays, atomic on its own and with the
    same text whatever the batch size (prepared once), so the dispatcher runs it without BEGIN/COMMIT: the hot
    path of every delivery. Returns the attempt id per (delivery id, attempt) that still held its claim; the
    others were taken over (their lease ran out) and wrote nothing.
    """
    if not outcomes:
        return {}
    records = [o.record for o in outcomes]
    params: dict[str, Any] = {
        "ids": [o.claimed.id for o in outcomes],
        "attempts": [o.claimed.attempt for o in outcomes],
        "row_status": [
            RowState.RETRYING.value if o.next_attempt_at is not None else o.record.status.value for o in outcomes
        ],
        "status": [r.status.value for r in records],
        "next_at": [o.next_attempt_at for o in outcomes],
        "slot": [o.provider_slot for o in outcomes],
        "provider": [r.provider for r in records],
        "message_id": [r.provider_message_id for r in records],
        "code": [r.provider_status_code for r in records],
        "error": [r.error for r in records],
        "latency": [r.latency_ms for r in records],
        "final": [o.next_attempt_at is None for o in outcomes],
        "published": list(published),
        "now": now,
    }
    rows = await conn.execute(_STORE_STATEMENT, params)
    return {(row.delivery_id, row.attempt): int(row.id) for row in rows}


async def stored_attempts(
    conn: AsyncConnection, claims: Sequence[tuple[str, int]]
) -> dict[tuple[str, int], tuple[int, datetime]]:
    """The attempt row each (delivery id, attempt) claim stored, with when: for an outcome write whose commit was in
    doubt (the connection lost after the server committed), which its retry finds fenced off by that very commit.

    A claim's outcome is the first row of its attempt number: only the claim's own fenced write inserts one, and
    a Twilio status callback adds a later row of the same number only once that outcome made the delivery sent.
    """
    if not claims:
        return {}
    params = {"ids": [c[0] for c in claims], "attempts": [c[1] for c in claims]}
    rows = await conn.execute(_STORED_ATTEMPTS, params)
    return {(row.delivery_id, row.attempt): (int(row.id), row.at) for row in rows}


_STORED_ATTEMPTS = text(
    "SELECT DISTINCT ON (a.delivery_id, a.attempt) a.id, a.delivery_id, a.attempt, a.at"
    " FROM unnest(CAST(:ids AS text[]), CAST(:attempts AS int[])) AS c(delivery_id, attempt)"
    " JOIN notifier_attempt AS a ON a.delivery_id = c.delivery_id AND a.attempt = c.attempt"
    " ORDER BY a.delivery_id, a.attempt, a.id"
)


async def mark_final(
    conn: AsyncConnection,
    delivery_id: str,
    number: int,
    record: AttemptRecord,
    now: datetime,
    *,
    claimed: bool = True,
) -> int:
    """A final outcome (sent, failed, expired, throttled): the row leaves the queue.

    ``claimed`` outcomes come from a send and are fenced by the claim; unclaimed ones are decided at admission.
    """
    values = _final_values(record, now)
    if claimed:
        await _update_held(conn, delivery_id, number, values)
    else:
        await conn.execute(delivery.update().where(delivery.c.id == delivery_id).values(**values))
    return await add_attempt(conn, delivery_id, number, record, now)
