"""Transactional outbox: pages are written with the state change that caused them, published after commit.

A page row is published once its ``send_at`` has come (notification-rule delays are held here, so an
acknowledgement can still cancel them). Pages due at once are published from memory right after the commit (the
fast lane) and marked published; the poller takes whatever the fast lane did not. If the process dies between
commit and publish, the next publisher pass — in this replica after restart, or in another — publishes it with
the same deterministic page id, and the notifier drops the repeat.

A fast-lane pass enqueues its records at once and leaves the wait for Kafka's acknowledgement and the mark
(``published_at``) to a task of its own, so the next pass enqueues meanwhile. It claims nothing first: a claim
was a transaction and two round trips on every page's path (BEGIN, the claim's UPDATE; router alone at 500
alerts/s, back-to-back runs: p50 11.9 -> 11.3 ms, p99 29.2 -> 24.2 ms), and the poller already leaves rows this
fresh alone. Passes enqueue in order, so the pages of an incident reach the pages topic in the order decided.

A resolve or an acknowledgement deletes the incident's pages not yet marked published (``effect_writes``). The
poller holds a row's lock from reading it to marking it, so the delete waits and then spares it; the fast lane
publishes from memory, so a page whose row was deleted between its commit and the lane's mark went to Kafka all the
same. The lane writes such a page back, marked published (``_MARK_GONE``): the outbox says what the person got, and
the on-call report, which counts published rows, counts it. A page whose pass Kafka refused stays unmarked (for the
poller), or is gone with its incident's resolve: it was never sent. The poller marks each page Kafka acknowledged,
whatever became of the others of its pass: a page Kafka refuses for good is tried again at every poll (counted and
logged as a publish failure) without holding back the pages after it.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from prometheus_client import Counter, Gauge

from alertrouter_router.config_state import ConfigHolder
from alertrouter_router.ownership.escalation_targets import readdressed
from alertrouter_router.ownership.model import OwnershipConfig
from alertrouter_shared.clock import Clock
from alertrouter_shared.errors import TransientError
from alertrouter_shared.events import Page
from alertrouter_shared.kafka import Record, enqueue_all
from alertrouter_shared.logging import get_logger
from alertrouter_shared.topics import PAGES

log = get_logger(__name__)

PAGES_PUBLISHED = Counter("alertrouter_router_pages_published_total", "Pages published to the pages topic")
PUBLISH_FAILURES = Counter("alertrouter_router_outbox_publish_failures_total", "Outbox publish passes that failed")
OUTBOX_PENDING = Gauge("alertrouter_router_outbox_due_pages", "Due pages not yet published at the last pass")
PAGES_WRITTEN_BACK = Counter(
    "alertrouter_router_outbox_published_after_cancel_total",
    "Pages the fast lane published whose outbox rows a resolve or acknowledgement had deleted: written back",
)


# Pages due at once are published from memory right after their transaction commits (the fast lane); the poller
# leaves them alone for this long, and publishes them itself only if the fast lane failed or the process died.
FAST_LANE_GRACE = timedelta(seconds=2)
# Fast-lane passes waiting for their acknowledgement and commit at once (each holds a database connection).
FAST_LANE_IN_FLIGHT = 4
ACK_TIMEOUT_SECONDS = 10.0


_MARK = (
    "UPDATE router_outbox SET published_at = $2 WHERE page_id = ANY($1::text[]) AND published_at IS NULL "
    "RETURNING page_id"
)
# Pages the lane published whose rows were not there to mark: a resolve or an acknowledgement deleted them after
# their commit. Written back as published (a row still there was marked by the poller meanwhile: left alone).
_MARK_GONE = (
    "INSERT INTO router_outbox (page_id, incident_id, payload, created_at, send_at, published_at) "
    "SELECT i, n, p, c, s, $6 FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], "
    "$5::timestamptz[]) AS t(i, n, p, c, s) ON CONFLICT (page_id) DO NOTHING RETURNING page_id"
)


async def publish_due(
    pool: asyncpg.Pool,  # type: ignore[type-arg]
    producer: AIOKafkaProducer,
    now: datetime,
    config: OwnershipConfig,
    limit: int = 500,
) -> int:
    """Publish one batch of due pages; rows are claimed with SKIP LOCKED so replicas never publish twice at once.

    A delayed page goes to its contact method's address in ``config`` (the configuration in force), and its row
    records what was sent."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            "SELECT page_id, incident_id, payload, send_at > created_at AS delayed FROM router_outbox "
            "WHERE published_at IS NULL AND send_at <= $1 AND (send_at > created_at OR created_at <= $2) "
            "ORDER BY send_at LIMIT $3 FOR UPDATE SKIP LOCKED",
            now,
            now - FAST_LANE_GRACE,
            limit,
        )
        OUTBOX_PENDING.set(len(rows))
        if not rows:
            return 0
        payloads = {r["page_id"]: r["payload"] for r in rows}
        readdressed = _readdressed([r["payload"] for r in rows if r["delayed"]], config)
        payloads.update(readdressed)
        records = [(PAGES, r["incident_id"].encode(), payloads[r["page_id"]].encode()) for r in rows]
        refusals = await _produce_each(producer, records, timeout=10)
        sent = [r["page_id"] for r, refusal in zip(rows, refusals, strict=True) if refusal is None]
        await conn.execute(
            "UPDATE router_outbox SET published_at = $2, payload = coalesce(t.payload, router_outbox.payload) "
            "FROM unnest($1::text[], $3::text[]) AS t(page_id, payload) WHERE router_outbox.page_id = t.page_id",
            sent,
            now,
            [readdressed.get(page_id) for page_id in sent],
        )
    PAGES_PUBLISHED.inc(len(sent))
    if len(sent) < len(rows):  # after the commit: the others are marked; the pass ends, the next poll tries again
        refused = [(r["page_id"], refusal) for r, refusal in zip(rows, refusals, strict=True) if refusal is not None]
        raise TransientError(f"Kafka refused {len(refused)} page(s), the first {refused[0][0]}: {refused[0][1]}")
    return len(sent)


async def _produce_each(producer: AIOKafkaProducer, records: list[Record], timeout: float) -> list[str | None]:
    """Each record's refusal, or None once Kafka acknowledged it. One page Kafka refuses for good (over the largest
    request it takes) failed the whole pass, every pass, and held back every delayed page behind it. No answer
    within ``timeout`` (the broker away) is the whole pass's failure, as before."""
    refusals: list[str | None] = [None] * len(records)
    waiting: dict[int, asyncio.Future[Any]] = {}
    try:
        async with asyncio.timeout(timeout):
            for index, (topic, key, value) in enumerate(records):
                try:
                    waiting[index] = await producer.send(topic, value=value, key=key)
                except KafkaError as exc:
                    refusals[index] = repr(exc)
            outcomes = await asyncio.gather(*waiting.values(), return_exceptions=True)
    except TimeoutError as exc:
        raise TransientError(f"Kafka did not acknowledge {len(records)} record(s) in {timeout} s") from exc
    for index, outcome in zip(waiting, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            refusals[index] = repr(outcome)
    return refusals


def _readdressed(payloads: list[str], config: OwnershipConfig) -> dict[str, str]:
    """page id -> the payload sent to the contact method's current address, for the pages whose address changed."""
    changed: dict[str, str] = {}
    for payload in payloads:
        page = readdressed(Page.model_validate_json(payload), config)
        if page is not None:
            changed[page.page_id] = page.model_dump_json()
            log.info("outbox_page_readdressed", page_id=page.page_id, contact_method=page.contact_method.id)
    return changed


class OutboxPublisher:
    """Publishes pages handed over after a commit at once, and polls for delayed and leftover ones."""

    def __init__(
        self,
        pool: asyncpg.Pool,  # type: ignore[type-arg]
        producer: AIOKafkaProducer,
        clock: Clock,
        period: float,
        configs: ConfigHolder,
    ) -> None:
        self.pool = pool
        self.configs = configs
        self.producer = producer
        self.clock = clock
        self.period = period
        self._kick = asyncio.Event()
        self._fresh: list[Page] = []
        self._last_error: str | None = None
        self._in_flight = asyncio.Semaphore(FAST_LANE_IN_FLIGHT)
        self._finishing: set[asyncio.Task[None]] = set()

    def hand_over(self, pages: list[Page], now: datetime) -> None:
        """Pages just committed: those due now go out from memory, without reading them back."""
        self._fresh += [p for p in pages if p.send_at <= now]
        self._kick.set()

    async def _publish_fresh(self) -> None:
        """Enqueue the records of the pages handed over; ``_finish`` marks them published once Kafka acknowledged.

        The pass runs as soon as the unit that committed the pages yields. A page cancelled between its commit and
        its pass (milliseconds: the pass waits only while the poller runs or every lane slot waits for Kafka) still
        goes out, like a page cancelled just after it was published. A page the poller publishes as well (a lane
        slower than FAST_LANE_GRACE, a crash before the mark) repeats its page id, which the notifier drops."""
        fresh, self._fresh = self._fresh, []
        if not fresh:
            return
        await self._in_flight.acquire()
        try:
            records = [(PAGES, p.incident_id.encode(), p.model_dump_json().encode()) for p in fresh]
            acknowledged = await enqueue_all(self.producer, records)
        except BaseException:
            self._in_flight.release()
            raise
        task = asyncio.create_task(self._finish(fresh, acknowledged))
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)

    async def _finish(self, pages: list[Page], acknowledged: list[asyncio.Future[Any]]) -> None:
        try:
            await self._mark_when_acknowledged(pages, acknowledged)
        finally:
            self._in_flight.release()

    async def _mark_when_acknowledged(self, pages: list[Page], acknowledged: list[asyncio.Future[Any]]) -> None:
        """Mark the pass's pages published once Kafka has them; unmarked, they are the poller's after the grace. A
        page whose row a resolve deleted meanwhile is written back, published (it was)."""
        try:
            async with asyncio.timeout(ACK_TIMEOUT_SECONDS):
                await asyncio.gather(*acknowledged)
        except (TimeoutError, KafkaError) as exc:
            self._failed(f"Kafka did not acknowledge {len(acknowledged)} page(s): {exc!r}")
            return
        try:
            async with self.pool.acquire() as conn:
                now = self.clock.now()
                marked = {r["page_id"] for r in await conn.fetch(_MARK, [p.page_id for p in pages], now)}
                if len(marked) < len(pages):  # a fresh snapshot: rows deleted while the mark waited are gone in it
                    await self._write_back(conn, [p for p in pages if p.page_id not in marked], now)
        except Exception as exc:
            self._failed(f"{len(pages)} page(s) published, not marked (the poller publishes them again): {exc!r}")
            return
        PAGES_PUBLISHED.inc(len(acknowledged))
        self._last_error = None

    async def _write_back(self, conn: Any, pages: list[Page], now: datetime) -> None:
        written = await conn.fetch(
            _MARK_GONE,
            [p.page_id for p in pages],
            [p.incident_id for p in pages],
            [p.model_dump_json() for p in pages],
            [p.created_at for p in pages],
            [p.send_at for p in pages],
            now,
        )
        if written:
            PAGES_WRITTEN_BACK.inc(len(written))
            log.info("outbox_published_after_cancel", pages=[r["page_id"] for r in written])

    def _failed(self, error: str) -> None:
        PUBLISH_FAILURES.inc()
        if error != self._last_error:  # log when the error changes, count every time
            log.warning("outbox_publish_failed", error=error)
        self._last_error = error

    async def run(self, stopping: asyncio.Event) -> None:
        """The fast lane whenever pages are handed over; the poller once per ``period`` (not after every hand-over:
        that was a transaction and a query per alert batch, finding nothing)."""
        loop = asyncio.get_running_loop()
        next_poll = loop.time()
        while not stopping.is_set():
            self._kick.clear()
            try:
                await self._publish_fresh()
                if loop.time() >= next_poll:
                    next_poll = loop.time() + self.period
                    while (
                        await publish_due(self.pool, self.producer, self.clock.now(), self.configs.current.config) > 0
                    ):
                        pass
                self._last_error = None
            except Exception as exc:
                self._failed(str(exc))
            if self._fresh:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), timeout=max(0.0, next_poll - loop.time()))
        await asyncio.gather(*self._finishing)  # passes in flight end (marked or left to the poller) before the process

    async def drain(self) -> None:
        """At stop, once the consumers, timers and HTTP requests in hand have ended: publish the pages they handed
        over after ``run`` returned (SIGTERM lets a consumer finish and commit its batch in hand, an escalation
        asked for answers 200), and wait for the marks. They waited for another process's poller, or for this one's
        restart. What Kafka does not take stays for the poller."""
        try:
            await self._publish_fresh()
        except Exception as exc:
            self._failed(str(exc))
        await asyncio.gather(*self._finishing)
