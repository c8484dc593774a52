"""The background loop that keeps the durable queue moving: due retries, closed flood windows, the outbox.

Every few seconds it also takes over deliveries whose sender's lease ran out (their worker crashed or stalled:
rare, and the lease is minutes long, so not on every pass) and refreshes the queue and outbox gauges; once an
hour it deletes the answers claimed longer ago than replays are refused (``db/answers.py``) and, with
``NOTIFIER_RETENTION_DAYS`` set, the deliveries over before it (``db/retention.py``). Every replica runs one; SKIP
LOCKED claims keep them from colliding, and two replicas pruning at once delete the same rows harmlessly.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from alertrouter_notifier.db.answers import prune as prune_answers
from alertrouter_notifier.db.retention import prune_deliveries
from alertrouter_notifier.db.tables import IN_FLIGHT, attempt, delivery
from alertrouter_notifier.digests import flush_due_digests, report_unreached_held
from alertrouter_notifier.dispatcher import Dispatcher
from alertrouter_notifier.metrics import OLDEST_PENDING_SECONDS, OLDEST_UNPUBLISHED_SECONDS, RETRY_QUEUE_DEPTH
from alertrouter_notifier.policy import DeliveryPolicy
from alertrouter_notifier.publisher import ResultPublisher
from alertrouter_shared.clock import Clock
from alertrouter_shared.logging import get_logger
from alertrouter_shared.metrics import HISTORY_DELETED

log = get_logger(__name__)

HOUSEKEEPING_EVERY = 5.0
OUTBOX_GRACE = timedelta(seconds=5)
PRUNE_EVERY = timedelta(hours=1)
PRUNE_BATCH = 1000


class RetryWorker:
    def __init__(
        self,
        engine: AsyncEngine,
        dispatcher: Dispatcher,
        publisher: ResultPublisher,
        policy: DeliveryPolicy,
        clock: Clock,
        poll_seconds: float,
        retention_days: int = 0,
    ) -> None:
        self._engine = engine
        self._dispatcher = dispatcher
        self._publisher = publisher
        self._policy = policy
        self._clock = clock
        self._poll = poll_seconds
        self._stopping = asyncio.Event()
        self._wakeup = asyncio.Event()
        self._answers_pruned_at: datetime | None = None
        self._retention_days = retention_days
        self._deliveries_pruned_at: datetime | None = None

    def stop(self) -> None:
        self._stopping.set()
        self._wakeup.set()

    def wake(self) -> None:
        self._wakeup.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        next_housekeeping = next_digests = 0.0
        while not self._stopping.is_set():
            busy = False
            self._wakeup.clear()  # before the pass: a wake-up during it means another pass
            try:
                digests = loop.time() >= next_digests
                if digests:
                    next_digests = loop.time() + self._poll
                busy = await self.tick(digests=digests)
                if loop.time() >= next_housekeeping:
                    more_abandoned = await self.housekeeping()
                    next_housekeeping = loop.time() + (0 if more_abandoned else HOUSEKEEPING_EVERY)
                    busy |= more_abandoned
            except Exception:
                log.exception("retry_worker_tick_failed")
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), timeout=self._poll)

    async def tick(self, *, digests: bool) -> bool:
        """One pass: close due flood windows into digests, then claim due deliveries. True if there may be more.

        The passes between polls (woken because a send slot freed while pages wait, or because the last pass was
        full) only claim: closing flood windows is a transaction of three round trips, such wake-ups come many
        times a second at 500 alerts/s, and a digest waits at most one poll, as it does when the worker is idle.
        """
        if digests:
            try:
                async with self._engine.begin() as conn:
                    created = await flush_due_digests(conn, self._clock.now(), self._policy)
                self._dispatcher.dispatch_now(created)
            except Exception:  # on its own: a flush that keeps failing held up every retry and scheduled page too
                log.exception("digest_flush_failed")
        claimed = await self._dispatcher.run_due()
        return claimed > 0

    async def _report_unreached_held(self) -> None:
        """On its own: a failure here must not hold up the gauges or the next pass (the next one tries again)."""
        try:
            async with self._engine.begin() as conn:
                ids = await report_unreached_held(conn, self._clock.now())
            await self._publisher.publish(ids)
        except Exception:
            log.exception("held_pages_report_failed")

    async def _prune_answers(self) -> None:
        """At most hourly, and on its own: a failure here must not hold up the gauges (the next hour tries again)."""
        now = self._clock.now()
        if self._answers_pruned_at is not None and now - self._answers_pruned_at < PRUNE_EVERY:
            return
        self._answers_pruned_at = now
        try:
            if pruned := await prune_answers(self._engine, now):
                log.info("answers_pruned", count=pruned)
        except Exception:
            log.exception("answers_prune_failed")

    async def _prune_deliveries(self) -> None:
        """With a retention set: one batch per pass (a year of rows deleted when it is first set must not hold up
        due retries), every pass until a batch finds nothing, then again an hour later. On its own, like the
        answers' prune."""
        now = self._clock.now()
        if not self._retention_days or (
            self._deliveries_pruned_at is not None and now - self._deliveries_pruned_at < PRUNE_EVERY
        ):
            return
        try:
            pruned = await prune_deliveries(self._engine, now - timedelta(days=self._retention_days), PRUNE_BATCH)
        except Exception:
            log.exception("deliveries_prune_failed")
            return
        if pruned:
            HISTORY_DELETED.labels("notifier_delivery").inc(pruned)
            log.info("history_pruned", retention_days=self._retention_days, deleted={"notifier_delivery": pruned})
        else:
            self._deliveries_pruned_at = now

    async def housekeeping(self) -> bool:
        """Abandoned deliveries, the outbox, old answers, the gauges. True if it took abandoned deliveries: more may
        wait.

        The outbox sweep runs in the background (one at a time) and drains a backlog in one go: it waits for the
        broker, which this loop, claiming due retries too, must never do."""
        more_abandoned = await self._dispatcher.run_due(abandoned=True) > 0
        self._publisher.sweep_soon(OUTBOX_GRACE)
        await self._report_unreached_held()
        await self._prune_answers()
        await self._prune_deliveries()
        await self._refresh_gauges()
        return more_abandoned

    async def _refresh_gauges(self) -> None:
        """The queue, and the outbox: results the router has not been told of (a person not reached is then
        escalated only after the level's whole delay) were visible only as a counter of failed publishes."""
        async with self._engine.connect() as conn:
            queue = (await conn.execute(_QUEUE_STATS)).one()
            unpublished = (await conn.execute(_FIRST_UNPUBLISHED)).scalar()
        now = self._clock.now()
        RETRY_QUEUE_DEPTH.set(queue[0])
        OLDEST_PENDING_SECONDS.set(_age(now, queue[1]))
        OLDEST_UNPUBLISHED_SECONDS.set(_age(now, unpublished))


_QUEUE_STATS = select(func.count(), func.min(delivery.c.created_at)).where(
    delivery.c.status.in_([state.value for state in IN_FLIGHT])
)
# The first result stored of those unpublished, read from the head of the partial index (attempt ids follow the
# order results are stored in); min(at) would read every unpublished row, a whole backlog during a broker outage.
_FIRST_UNPUBLISHED = (
    select(attempt.c.at).where(attempt.c.published_at.is_(None)).order_by(attempt.c.published_at, attempt.c.id).limit(1)
)


def _age(now: datetime, since: datetime | None) -> float:
    """0 when nothing waits, and for a row another replica's clock dated a moment ahead of ours."""
    return max(0.0, (now - since).total_seconds()) if since is not None else 0.0
