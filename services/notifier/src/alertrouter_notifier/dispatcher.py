"""Sends claimed deliveries: one attempt each, then retry, failover or a final outcome, stored and published.

Deliveries are claimed from the database under a lease, so a delivery is sent by exactly one worker at a time,
and each send runs in its own task (bounded), so a slow or failing provider never blocks other deliveries.
The at-least-once window: if the process dies after the provider accepted a message but before the outcome
is committed, the lease expires and the message is sent again. Nothing else sends a recorded message twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from alertrouter_notifier.channels.base import (
    Outgoing,
    Provider,
    Receipt,
    SendPermanentError,
    SendTransientError,
)
from alertrouter_notifier.channels.registry import ChannelSet
from alertrouter_notifier.db.claims import claim_due, claimed_with_lease
from alertrouter_notifier.db.connections import autocommit
from alertrouter_notifier.db.ledger import AttemptRecord, ClaimedDelivery, LeaseLost, Outcome
from alertrouter_notifier.links import LinkBuilder
from alertrouter_notifier.metrics import ATTEMPTS, DELIVERIES, LEASES_LOST, PROVIDER_LATENCY
from alertrouter_notifier.outcome_writer import OutcomeWriter
from alertrouter_notifier.outcomes import GAVE_UP_PREFIX
from alertrouter_notifier.policy import DeliveryPolicy
from alertrouter_notifier.publisher import ResultPublisher
from alertrouter_shared.clock import Clock
from alertrouter_shared.db_errors import is_transient
from alertrouter_shared.events import DeliveryStatus, Page
from alertrouter_shared.logging import bound_context, get_logger
from alertrouter_shared.redaction import redact

log = get_logger(__name__)

_TICK = timedelta(microseconds=1)


class Dispatcher:
    def __init__(
        self,
        engine: AsyncEngine,
        channels: ChannelSet,
        publisher: ResultPublisher,
        policy: DeliveryPolicy,
        links: LinkBuilder,
        clock: Clock,
        *,
        max_concurrent: int = 64,
        claim_batch: int = 100,
    ) -> None:
        self._engine = engine
        self._channels = channels
        self._policy = policy
        self._links = links
        self._clock = clock
        self._max_concurrent = max_concurrent
        self._claim_batch = claim_batch
        self._outcomes = OutcomeWriter(engine, publisher, clock)
        self._tasks: set[asyncio.Task[None]] = set()
        # Deliveries claimed and not yet recorded. Claims never exceed free send slots: a claimed delivery starts
        # sending at once, so its lease cannot run out while it waits its turn (which would let a second worker
        # claim and send it too).
        self._reserved = 0
        # Deliveries turned away (every slot taken) wait in the table; while any may still wait, a freed slot
        # calls ``_on_room`` (the retry worker's wake-up) instead of leaving them to its next poll. A claim pass
        # that found less than it could take settles the count it started from: later turn-aways still wait.
        self._turned_away = 0
        self._settled = 0
        self._on_room: Callable[[], None] = lambda: None
        self._last_lease = datetime.min.replace(tzinfo=UTC)

    def call_when_room(self, callback: Callable[[], None]) -> None:
        """``callback`` runs when a send slot frees while deliveries that did not fit are waiting."""
        self._on_room = callback

    def _note_turned_away(self, wanted: int, take: int) -> None:
        if take < wanted:
            self._turned_away += 1

    def _release(self, slots: int) -> None:
        self._reserved -= slots
        if slots > 0 and self._turned_away != self._settled:
            self._on_room()

    @property
    def in_flight(self) -> int:
        return self._reserved

    def _free(self) -> int:
        return max(0, self._max_concurrent - self._reserved)

    def dispatch_now(self, delivery_ids: Sequence[str]) -> None:
        """Fast path for freshly admitted deliveries; what does not fit now is found by ``run_due``."""
        take = min(len(delivery_ids), self._free())
        self._note_turned_away(len(delivery_ids), take)
        if take:
            self._reserved += take
            self._spawn(self._claim_and_send(list(delivery_ids[:take]), take))

    def reserve(self, wanted: int) -> int:
        """Send slots for pages about to be admitted already claimed; ``send_claimed`` gives back what is unused."""
        take = min(wanted, self._free())
        self._note_turned_away(wanted, take)
        self._reserved += take
        return take

    def send_claimed(self, claimed: Sequence[ClaimedDelivery], reserved: int) -> None:
        """Start sending deliveries claimed at admission (after their rows committed) within ``reserved`` slots."""
        self._release(reserved - len(claimed))
        for item in claimed:
            self._spawn(self._send(item))

    async def run_due(self, *, abandoned: bool = False) -> int:
        """Claim what is due (retries, scheduled pages, pages turned away) up to free capacity.

        With ``abandoned``: the deliveries whose sender's lease ran out (a crashed or stalled worker) instead.
        """
        capacity = min(self._claim_batch, self._free())
        if capacity <= 0:
            return 0
        turned_away = self._turned_away
        self._reserved += capacity  # while the claim runs, pages arriving find no slot and wait in the table
        try:
            claimed = await self._claim(None, capacity, abandoned=abandoned)
        except BaseException:
            self._release(capacity)
            raise
        if len(claimed) < capacity and not abandoned:
            self._settled = turned_away  # everything due then fitted; pages turned away while claiming may not have
        self._release(capacity - len(claimed))  # pages turned away meanwhile: the worker passes again at once
        for item in claimed:
            self._spawn(self._send(item))
        return len(claimed)

    async def drain(self, timeout: float) -> None:
        """Let sends in progress finish and record their outcome (their leases would otherwise expire), and the sends
        they start meanwhile: a permanent refusal fails over to the next provider at once, in a send of its own."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._tasks and loop.time() < deadline:
            await asyncio.wait(set(self._tasks), timeout=deadline - loop.time())
        await self._outcomes.drain()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _claim(self, ids: list[str] | None, limit: int, *, abandoned: bool = False) -> list[ClaimedDelivery]:
        now = self._clock.now()
        # This claim's own (later than any earlier claim's here): what it took is found by it when in doubt.
        lease_until = self._last_lease = max(now + self._policy.send_lease, self._last_lease + _TICK)
        try:
            async with autocommit(self._engine) as conn:  # one statement: claim is atomic without a transaction
                return await claim_due(conn, now, lease_until, limit, ids, abandoned=abandoned)
        except Exception as exc:
            if not is_transient(exc):
                raise
            in_doubt = exc
        async with autocommit(self._engine) as conn:  # the server may have committed before the connection was lost
            taken = await claimed_with_lease(conn, lease_until, limit, ids)
        if not taken:
            raise in_doubt
        log.warning("claim_in_doubt_was_committed", count=len(taken))
        return taken

    async def _claim_and_send(self, ids: list[str], reserved: int) -> None:
        try:
            claimed = await self._claim(ids, len(ids))
        except Exception:
            log.exception("claim_failed_retry_worker_will_pick_up", count=len(ids))
            claimed = []
        self._release(reserved - len(claimed))  # the slots of ids another worker had already taken
        await asyncio.gather(*(self._send(item) for item in claimed))

    async def _send(self, claimed: ClaimedDelivery) -> None:
        """One attempt for one claimed delivery; always gives its send slot back."""
        with bound_context(delivery_id=claimed.id, page_id=claimed.page.page_id, incident_id=claimed.page.incident_id):
            try:
                await self._attempt(claimed)
            except LeaseLost as exc:
                LEASES_LOST.inc()
                log.warning("delivery_lease_lost", error=str(exc))
            except Exception:
                log.exception("delivery_attempt_crashed")
            finally:
                self._release(1)

    async def _attempt(self, claimed: ClaimedDelivery) -> None:
        now = self._clock.now()
        page = claimed.page
        if self._policy.is_expired(page, now):  # e.g. the notifier was down: too late to be useful
            age = self._policy.page_age(page, now).total_seconds()
            await self._final(claimed, AttemptRecord(DeliveryStatus.EXPIRED, error=f"page waited {age:.0f}s"))
            return
        providers = self._channels.providers(page.contact_method.type)
        if not providers:
            error = f"channel {page.contact_method.type.value!r} is not configured"
            await self._final(claimed, AttemptRecord(DeliveryStatus.FAILED, error=error))
            return
        slot = self._slot(claimed, len(providers), now)
        provider = providers[slot]
        outgoing = Outgoing(claimed.id, claimed.attempt, page, self._links.for_page(page, now))
        started = time.perf_counter()
        try:
            receipt = await self._send_within(provider, outgoing)
        except SendTransientError as exc:
            await self._transient(
                claimed, provider, slot, len(providers), exc, self._elapsed_ms(started, page, provider)
            )
        except SendPermanentError as exc:
            await self._permanent(
                claimed, provider, slot, len(providers), exc, self._elapsed_ms(started, page, provider)
            )
        except Exception as exc:
            log.error("provider_raised_unexpectedly", provider=provider.name, error=redact(repr(exc)))
            wrapped = SendTransientError(f"{provider.name}: unexpected {type(exc).__name__}: {exc}")
            await self._transient(
                claimed, provider, slot, len(providers), wrapped, self._elapsed_ms(started, page, provider)
            )
        else:
            await self._sent(claimed, provider, receipt, self._elapsed_ms(started, page, provider))

    async def _send_within(self, provider: Provider, outgoing: Outgoing) -> Receipt:
        """The provider's send, ended as a transient failure once the policy's attempt timeout has passed."""
        limit = self._policy.attempt_timeout
        bound = asyncio.timeout(limit)
        try:
            async with bound:
                return await provider.send(outgoing)
        except TimeoutError as exc:
            if not bound.expired():
                raise
            message = f"{provider.name}: no complete answer within {limit:g} s"
            raise SendTransientError(message, status_code="timeout") from exc

    def _slot(self, claimed: ClaimedDelivery, provider_count: int, now: datetime) -> int:
        """Stay on the primary until the failover time; then, or after its permanent refusal, use the next one."""
        slot = min(claimed.provider_slot, provider_count - 1)
        if slot == 0 and provider_count > 1 and now >= claimed.failover_at:
            return 1
        return slot

    def _elapsed_ms(self, started: float, page: Page, provider: Provider) -> float:
        seconds = time.perf_counter() - started
        channel = claimed_channel(page)
        PROVIDER_LATENCY.labels(channel, provider.name).observe(seconds)
        return round(seconds * 1000, 3)

    async def _sent(self, claimed: ClaimedDelivery, provider: Provider, receipt: Receipt, latency: float) -> None:
        ATTEMPTS.labels(claimed_channel(claimed.page), provider.name, "sent").inc()
        record = AttemptRecord(
            DeliveryStatus.SENT,
            provider=provider.name,
            provider_message_id=receipt.provider_message_id,
            provider_status_code=receipt.provider_status_code,
            latency_ms=latency,
        )
        await self._final(claimed, record)
        log.info("delivery_sent", provider=provider.name, attempt=claimed.attempt)

    async def _transient(
        self,
        claimed: ClaimedDelivery,
        provider: Provider,
        slot: int,
        provider_count: int,
        exc: SendTransientError,
        latency: float,
    ) -> None:
        ATTEMPTS.labels(claimed_channel(claimed.page), provider.name, "transient").inc()
        message = redact(str(exc))
        now = self._clock.now()
        next_at = now + timedelta(seconds=self._policy.backoff(claimed.attempt, exc.retry_after))
        if slot + 1 < provider_count and claimed.failover_at < next_at:
            # The attempt at the failover time goes to the next provider, which never asked us to wait: the primary's
            # Retry-After delayed it by minutes, or, past the deadline, gave the page up untried.
            next_at = max(now, claimed.failover_at)
        record = AttemptRecord(
            DeliveryStatus.RETRYING,
            provider=provider.name,
            provider_status_code=exc.status_code,
            error=message,
            latency_ms=latency,
        )
        if next_at > claimed.deadline_at:
            error = f"{GAVE_UP_PREFIX} after {claimed.attempt} attempt(s): {message}"
            await self._final(claimed, replace(record, status=DeliveryStatus.FAILED, error=error))
            return
        if self._policy.is_expired(claimed.page, next_at):
            # The retry would find the page expired: said now, so the router escalates now, not at that retry (a
            # page admitted late whose provider asked to wait minutes; the deadline counts from admission).
            age = self._policy.page_age(claimed.page, next_at).total_seconds()
            error = f"the next attempt would be {age:.0f}s after the page was due, past its maximum age: {message}"
            await self._final(claimed, replace(record, status=DeliveryStatus.EXPIRED, error=error))
            return
        log.warning("delivery_retry_scheduled", provider=provider.name, attempt=claimed.attempt, error=message)
        await self._store(claimed, record, next_at=next_at, slot=slot)

    async def _permanent(
        self,
        claimed: ClaimedDelivery,
        provider: Provider,
        slot: int,
        provider_count: int,
        exc: SendPermanentError,
        latency: float,
    ) -> None:
        ATTEMPTS.labels(claimed_channel(claimed.page), provider.name, "permanent").inc()
        message = redact(str(exc))
        record = AttemptRecord(
            DeliveryStatus.FAILED,
            provider=provider.name,
            provider_status_code=exc.status_code,
            error=message,
            latency_ms=latency,
        )
        if exc.failover and slot + 1 < provider_count:
            log.warning("delivery_failover", provider=provider.name, error=message)
            retry = replace(record, status=DeliveryStatus.RETRYING)
            await self._store(claimed, retry, next_at=self._clock.now(), slot=slot + 1)
            self.dispatch_now([claimed.id])
            return
        log.warning("delivery_failed_permanently", provider=provider.name, error=message)
        await self._final(claimed, record)

    async def _final(self, claimed: ClaimedDelivery, record: AttemptRecord) -> None:
        DELIVERIES.labels(claimed_channel(claimed.page), record.status.value).inc()
        await self._store(claimed, record, next_at=None, slot=claimed.provider_slot)

    async def _store(
        self, claimed: ClaimedDelivery, record: AttemptRecord, *, next_at: datetime | None, slot: int
    ) -> None:
        """Committed (with the outcomes of concurrent sends, in one statement) and then published."""
        await self._outcomes.store(Outcome(claimed, record, next_at, slot))


def claimed_channel(page: Page) -> str:
    return page.contact_method.type.value
