"""Finding the pages we sent, from what a person's answer carries: a provider message id or their address.

Answers (a key press, an SMS reply, a Slack button) arrive without our ids. A call or a chat message is found by
the id the provider gave it; an SMS reply only by the sender's number, matched through the same destination hash
the flood protection uses (so the lookup is indexed, and no address has to be compared in the clear). A call's
callbacks also name its delivery in their signed URL: a call whose provider id was never recorded (Twilio created
it but answered after our timeout, and the call placed again is the one recorded) is found by that.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, true
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from alertrouter_notifier.db.tables import IN_FLIGHT, RowState, delivery
from alertrouter_notifier.destination import throttle_key
from alertrouter_shared.events import ContactMethod, ContactMethodType, Page, PageKind

RECORD_GRACE_SECONDS = 2.0


@dataclass(frozen=True)
class SentPage:
    delivery_id: str
    page: Page
    sent_at: datetime
    provider_message_id: str | None = None  # the provider's id recorded for the delivery (``by_delivery`` only)


async def recorded(
    engine: AsyncEngine, channel: ContactMethodType, message_id: str, grace_seconds: float = RECORD_GRACE_SECONDS
) -> SentPage | None:
    """The page sent as ``message_id``, waiting briefly when it is not found yet.

    A provider can call back (a call failing at once, a fast click) before the send's outcome -- which records the
    provider's id -- is committed; that commit is a matter of milliseconds, so the lookup is retried for a moment
    instead of ignoring the callback. An id we never sent is still unknown after the grace period.
    """
    deadline = time.monotonic() + grace_seconds
    while True:
        async with engine.connect() as conn:
            found = await by_provider_message(conn, channel, message_id)
        if found is not None or not message_id or time.monotonic() >= deadline:
            return found
        await asyncio.sleep(0.05)


async def by_provider_message(conn: AsyncConnection, channel: ContactMethodType, message_id: str) -> SentPage | None:
    query = (
        select(delivery.c.id, delivery.c.page, delivery.c.created_at)
        .where(delivery.c.provider_message_id == message_id, delivery.c.channel == channel.value)
        .limit(1)
    )
    row = (await conn.execute(query)).first()
    return None if row is None else SentPage(row.id, Page.model_validate(row.page), row.created_at)


async def by_delivery(engine: AsyncEngine, channel: ContactMethodType, delivery_id: str) -> SentPage | None:
    """The page of delivery ``delivery_id`` on ``channel``, whatever became of it, with the provider id recorded for
    it (None before a send was accepted, or when none was). No grace period: the row exists from admission on."""
    query = select(delivery.c.id, delivery.c.page, delivery.c.created_at, delivery.c.provider_message_id).where(
        delivery.c.id == delivery_id, delivery.c.channel == channel.value
    )
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    if row is None:
        return None
    return SentPage(row.id, Page.model_validate(row.page), row.created_at, row.provider_message_id)


def address_keys(address: str, channels: Sequence[ContactMethodType]) -> list[str]:
    return [throttle_key(ContactMethod(id="", type=channel, address=address)) for channel in channels]


REACHED = (RowState.SENT.value, RowState.DELIVERED.value)


async def triggers_to(
    conn: AsyncConnection, address: str, channels: Sequence[ContactMethodType], since: datetime
) -> list[SentPage]:
    """Trigger pages handed to the provider for ``address`` on ``channels`` since ``since``, newest first. A page
    being retried, held by flood protection, failed or expired never reached the person: a bare "1"
    acknowledged such an incident (one they never received) when it was their only other open page.

    Each page's time is when it was sent (a first attempt being sent: when it was queued): a page retried for
    minutes counted from its queueing, earlier than a page sent meanwhile, and was not taken for the one a bare
    reply may mean."""
    sent_at = func.coalesce(delivery.c.sent_at, delivery.c.created_at)
    query = (
        select(delivery.c.id, delivery.c.page, sent_at.label("sent_at"))
        .where(
            delivery.c.throttle_key.in_(address_keys(address, channels)),
            delivery.c.created_at >= since,
            delivery.c.kind == PageKind.TRIGGER.value,
            # a first attempt being sent counts too (its outcome may not be stored yet); a later one is a retry
            delivery.c.status.in_(REACHED)
            | ((delivery.c.status == RowState.SENDING.value) & (delivery.c.attempt_count == 1)),
        )
        .order_by(sent_at.desc())
        .limit(200)
    )
    return [SentPage(row.id, Page.model_validate(row.page), row.sent_at) for row in await conn.execute(query)]


async def recipient_of(conn: AsyncConnection, channel: ContactMethodType, address: str) -> str | None:
    """The person who was last paged at ``address`` on ``channel`` (how a Slack member id is tied to a user)."""
    query = (
        select(delivery.c.user_id)
        .where(delivery.c.throttle_key.in_(address_keys(address, [channel])))
        .order_by(delivery.c.created_at.desc())
        .limit(1)
    )
    return (await conn.execute(query)).scalar_one_or_none()


async def trigger_message(engine: AsyncEngine, page: Page) -> tuple[str, Page] | None:
    """The provider id and page of the trigger this contact method got for ``page``'s incident (newest first).
    A contact method id is unique per person only: without the person and channel, another person's message with
    the same id (newer) was rewritten, or an SMS id taken for a Slack message."""
    query = (
        select(delivery.c.provider_message_id, delivery.c.page)
        .where(
            delivery.c.incident_id == page.incident_id,
            delivery.c.user_id == page.user_id,
            delivery.c.channel == page.contact_method.type.value,
            delivery.c.contact_method_id == page.contact_method.id,
            delivery.c.kind == PageKind.TRIGGER.value,
            delivery.c.provider_message_id.is_not(None),
        )
        .order_by(delivery.c.seq.desc())
        .limit(1)
    )
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    return None if row is None else (str(row.provider_message_id), Page.model_validate(row.page))


MessageOf = tuple[str, str, str]  # (incident id, user id, contact method id): whose trigger's message it is


def message_of(page: Page) -> MessageOf:
    return (page.incident_id, page.user_id, page.contact_method.id)


async def slack_triggers_posted(
    conn: AsyncConnection, pages: Sequence[Page], leaving_out: Collection[str]
) -> set[MessageOf]:
    """Of ``pages``, whose Slack trigger (the same incident, person and contact method) has a message to update:
    posted (it has the provider's id) or on its way (pending, sending, retrying). A trigger held by flood protection,
    failed or expired has none. ``leaving_out``: deliveries whose fate is not decided yet (admitted in the same
    transaction, their flood window still to come)."""
    if not pages:
        return set()
    query = (
        select(delivery.c.incident_id, delivery.c.user_id, delivery.c.contact_method_id)
        .where(
            delivery.c.incident_id.in_(sorted({p.incident_id for p in pages})),
            delivery.c.channel == ContactMethodType.SLACK.value,
            delivery.c.kind == PageKind.TRIGGER.value,
            delivery.c.provider_message_id.is_not(None) | delivery.c.status.in_([s.value for s in IN_FLIGHT]),
            delivery.c.id.not_in(sorted(leaving_out)) if leaving_out else true(),
        )
        .distinct()
    )
    wanted = {message_of(p) for p in pages}
    return {(row.incident_id, row.user_id, row.contact_method_id) for row in await conn.execute(query)} & wanted
