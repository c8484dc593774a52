"""The notifier's own tables (prefixed ``notifier_`` so they never clash with the router's in a shared database).

``notifier_delivery`` is both the idempotency record and the durable retry queue: one row per
(page id, contact method id), claimed by workers with ``FOR UPDATE SKIP LOCKED``.
``notifier_attempt`` stores every outcome and doubles as the outbox of the deliveries topic (``published_at``).
``notifier_throttle`` holds the flood windows (one per destination and budget) and their pending digests.
``notifier_answer`` holds the answers people sent (an SMS reply, a call's key press, a Slack click) that were acted
on, by the provider's id of the request: a request replayed or retried acts once.
Deliveries and attempts are analyzed on a small sample (migration 0003): a column added to them needs the same.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

from alertrouter_shared.events import MAX_PAGE_ID_CHARS

metadata = MetaData()

# What a provider said about a send (its message id, its status or error code), as stored; ledger.AttemptRecord cuts
# longer values to these.
PROVIDER_MESSAGE_ID_CHARS = 255
PROVIDER_STATUS_CODE_CHARS = 64


class RowState(StrEnum):
    """Delivery row states: the first three are in flight, the rest mirror the final DeliveryStatus."""

    PENDING = "pending"
    RETRYING = "retrying"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    EXPIRED = "expired"
    THROTTLED = "throttled"
    CANCELLED = "cancelled"  # not sent: its incident was acknowledged or resolved first (intake.cancel_superseded)


IN_FLIGHT = (RowState.PENDING, RowState.RETRYING, RowState.SENDING)

delivery = Table(
    "notifier_delivery",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("seq", BigInteger, Identity(), nullable=False, unique=True),
    Column("page_id", String(MAX_PAGE_ID_CHARS), nullable=False),
    Column("contact_method_id", String(255), nullable=False),
    Column("incident_id", String(255), nullable=False),
    Column("user_id", String(255), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("destination_masked", String(255), nullable=False),
    Column("throttle_key", String(64), nullable=False),
    Column("page", JSONB, nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempt_count", Integer, nullable=False, server_default="0"),
    Column("provider_slot", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("lease_until", DateTime(timezone=True)),
    Column("deadline_at", DateTime(timezone=True), nullable=False),
    Column("failover_at", DateTime(timezone=True), nullable=False),
    Column("provider", String(64)),
    Column("provider_message_id", String(PROVIDER_MESSAGE_ID_CHARS)),
    Column("provider_status_code", String(PROVIDER_STATUS_CODE_CHARS)),
    Column("last_error", Text),
    Column("digest_count", Integer),
    Column("digest_delivery_id", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    UniqueConstraint("page_id", "contact_method_id", name="uq_notifier_delivery_page_contact"),
    Index("ix_notifier_delivery_due", "status", "next_attempt_at"),
    Index("ix_notifier_delivery_incident", "incident_id", "seq"),
    Index("ix_notifier_delivery_provider_message", "provider_message_id"),
    Index("ix_notifier_delivery_destination", "throttle_key", "created_at"),
    Index("ix_notifier_delivery_held", "digest_delivery_id", postgresql_where="digest_delivery_id IS NOT NULL"),
    Index(
        "ix_notifier_delivery_digest_unreached",
        "updated_at",
        postgresql_where="kind = 'digest' AND status IN ('failed', 'undelivered', 'expired')",
    ),
)

attempt = Table(
    "notifier_attempt",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("delivery_id", String(64), ForeignKey("notifier_delivery.id", ondelete="CASCADE"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column("provider", String(64), nullable=False, server_default=""),
    Column("provider_message_id", String(PROVIDER_MESSAGE_ID_CHARS)),
    Column("provider_status_code", String(PROVIDER_STATUS_CODE_CHARS)),
    Column("error", Text),
    Column("latency_ms", Float),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("published_at", DateTime(timezone=True)),
    Index("ix_notifier_attempt_delivery", "delivery_id", "id"),
    Index("ix_notifier_attempt_unpublished", "published_at", "id", postgresql_where="published_at IS NULL"),
)

throttle = Table(
    "notifier_throttle",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("budget", String(10), primary_key=True, server_default="pages"),
    Column("channel", String(20), nullable=False),
    Column("window_start", DateTime(timezone=True), nullable=False),
    Column("sent_in_window", Integer, nullable=False),
    Column("suppressed", Integer, nullable=False, server_default="0"),
    Column("digest_due_at", DateTime(timezone=True)),
    Column("last_page", JSONB),
    Column("services", JSONB, nullable=False, server_default="[]"),
    Index("ix_notifier_throttle_digest_due", "digest_due_at"),
)

answer = Table(
    "notifier_answer",
    metadata,
    Column("key", String(128), primary_key=True),  # "sms:<MessageSid>", "voice:<CallSid>", "slack:<signature>"
    Column("received_at", DateTime(timezone=True), nullable=False),
)
