"""Read side of the delivery records for ``GET /v1/deliveries``: filters, keyset pagination, attempts inline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from alertrouter_notifier.db.tables import attempt, delivery
from alertrouter_notifier.outcomes import failure_reason
from alertrouter_shared.cursors import encode_cursor, seq_after
from alertrouter_shared.events import ContactMethodType, DeliveryStatus
from alertrouter_shared.redaction import redact_optional


class AttemptView(BaseModel):
    attempt: int
    status: str
    provider: str
    provider_message_id: str | None
    provider_status_code: str | None
    error: str | None
    latency_ms: float | None
    at: datetime


class DeliveryView(BaseModel):
    delivery_id: str
    page_id: str
    incident_id: str
    user_id: str
    contact_method_id: str
    kind: str
    channel: str
    destination_masked: str
    status: str
    attempt_count: int
    provider: str | None
    provider_message_id: str | None
    provider_status_code: str | None
    last_error: str | None
    next_attempt_at: datetime | None
    digest_count: int | None
    digest_delivery_id: str | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    failure_reason: str | None = Field(None, description="set when this contact method failed for good")
    attempts: list[AttemptView]


class DeliveryPage(BaseModel):
    items: list[DeliveryView]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last page")


class DeliveryFilters(BaseModel):
    incident: str | None = None
    page: str | None = None
    status: str | None = None
    channel: str | None = None


async def list_deliveries(
    conn: AsyncConnection, filters: DeliveryFilters, limit: int, cursor: str | None
) -> DeliveryPage:
    """In arrival order (a timeline reads forward); ``next_cursor`` continues after the last item."""
    query = select(delivery)
    conditions: list[Any] = []
    if filters.incident:
        conditions.append(delivery.c.incident_id == filters.incident)
    if filters.page:
        conditions.append(delivery.c.page_id == filters.page)
    if filters.status:
        conditions.append(delivery.c.status == filters.status)
    if filters.channel:
        conditions.append(delivery.c.channel == filters.channel)
    if cursor:
        conditions.append(delivery.c.seq > seq_after("deliveries", cursor))
    query = query.where(*conditions).order_by(delivery.c.seq).limit(limit + 1)
    rows = (await conn.execute(query)).mappings().all()
    more = len(rows) > limit
    rows = rows[:limit]
    attempts = await _attempts_for(conn, [row["id"] for row in rows])
    items = [_view(row, attempts.get(row["id"], [])) for row in rows]
    next_cursor = encode_cursor("deliveries", rows[-1]["seq"]) if more and rows else None
    return DeliveryPage(items=items, next_cursor=next_cursor)


async def _attempts_for(conn: AsyncConnection, ids: list[str]) -> dict[str, list[AttemptView]]:
    if not ids:
        return {}
    query = select(attempt).where(attempt.c.delivery_id.in_(ids)).order_by(attempt.c.id)
    grouped: dict[str, list[AttemptView]] = {}
    for row in (await conn.execute(query)).mappings():
        view = AttemptView.model_validate({**row, "error": redact_optional(row["error"])})
        grouped.setdefault(row["delivery_id"], []).append(view)
    return grouped


def _failure(data: dict[str, Any]) -> str | None:
    if data["status"] not in {status.value for status in DeliveryStatus}:
        return None  # in flight: pending, retrying, sending
    channel = ContactMethodType(data["channel"])
    return failure_reason(channel, DeliveryStatus(data["status"]), data["provider_status_code"], data["last_error"])


def _view(row: Any, attempts: list[AttemptView]) -> DeliveryView:
    data = {**row, "last_error": redact_optional(row["last_error"])}
    data["failure_reason"] = _failure(data)
    return DeliveryView(
        delivery_id=data["id"],
        attempts=attempts,
        **{key: data[key] for key in DeliveryView.model_fields if key in data and key not in ("attempts",)},
    )
