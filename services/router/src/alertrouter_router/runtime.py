"""Composition root: builds the router's parts from settings and runs them until SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Any

import asyncpg

from alertrouter_router import audit, overrides
from alertrouter_router.api.app import create_app
from alertrouter_router.changes import handle_change_batch
from alertrouter_router.config_watch import keep_loaded, watch_config
from alertrouter_router.db.pool import make_pool
from alertrouter_router.identity import Principal, Role
from alertrouter_router.outbox import OutboxPublisher
from alertrouter_router.pipeline import handle_alert_batch
from alertrouter_router.settings import RouterSettings
from alertrouter_router.state import RouterState
from alertrouter_router.timeline import handle_delivery_batch
from alertrouter_router.timers import run_drill_schedule, run_timers
from alertrouter_shared.auth import load_token_entries
from alertrouter_shared.clock import Clock, SystemClock
from alertrouter_shared.consumer_loop import ConsumerLoop, ConsumerOptions, make_consumer
from alertrouter_shared.database import engine_connections, make_engine
from alertrouter_shared.kafka import ensure_project_topics, make_producer, until_connected
from alertrouter_shared.logging import get_logger
from alertrouter_shared.serving import embedded_server
from alertrouter_shared.topics import ALERTS, CHANGES, DELIVERIES

log = get_logger(__name__)

# At stop, how long the pages handed over after the publisher's loop ended may take to go out (Kafka's answer
# included) before they are left to the next poller.
DRAIN_SECONDS = 15.0


def max_db_connections(settings: RouterSettings) -> int:
    """The most PostgreSQL connections one router process (either role) holds: its SQLAlchemy engine (the API's
    reads, audit, config versions) and its asyncpg pool (the consumer batch, timers, outbox), both sized by
    ``ROUTER_DB_POOL_SIZE``. docs/deployment.md sizes ``max_connections`` with it."""
    return engine_connections(settings.db_pool_size) + settings.db_pool_size


def build_state(settings: RouterSettings, clock: Clock | None = None) -> RouterState:
    clock = clock or SystemClock()
    engine = make_engine(settings.database_url, settings.db_pool_size)
    producer = make_producer(settings, linger_ms=1)
    pool = make_pool(settings.database_url, settings.db_pool_size)
    configs = overrides.OverlaidConfigs.load(settings.config_path)
    return RouterState(
        settings=settings,
        engine=engine,
        pool=pool,
        producer=producer,
        clock=clock,
        configs=configs,
        token_entries=load_token_entries(settings.api_tokens, settings.api_tokens_file),
        publisher=OutboxPublisher(pool, producer, clock, settings.outbox_poll_seconds, configs),
    )


def _consumer_loops(state: RouterState) -> list[ConsumerLoop]:
    settings = state.settings

    async def on_alerts(records: object) -> None:
        await handle_alert_batch(state, records)  # type: ignore[arg-type]

    async def on_deliveries(records: object) -> None:
        await handle_delivery_batch(state, records)  # type: ignore[arg-type]

    async def on_changes(records: object) -> None:
        await handle_change_batch(state, records)  # type: ignore[arg-type]

    alerts = ConsumerOptions(group_id=settings.consumer_group, topics=[ALERTS], max_records=settings.batch_max_records)
    deliveries = ConsumerOptions(group_id=f"{settings.consumer_group}-deliveries", topics=[DELIVERIES])
    changes = ConsumerOptions(group_id=f"{settings.consumer_group}-changes", topics=[CHANGES])
    return [
        ConsumerLoop(make_consumer(settings, alerts), on_alerts, alerts),
        ConsumerLoop(make_consumer(settings, deliveries), on_deliveries, deliveries),
        ConsumerLoop(make_consumer(settings, changes), on_changes, changes),
    ]


class RouterRuntime:
    """The router's tasks in one process; tests run it in-process with their own clock and settings."""

    def __init__(
        self, settings: RouterSettings, *, consume: bool = True, serve_api: bool = True, clock: Clock | None = None
    ) -> None:
        self.state = build_state(settings, clock)
        self.consume = consume
        self.loops = _consumer_loops(self.state) if consume else []
        self.server = embedded_server(create_app(self.state, with_api=serve_api), settings.host, settings.port)
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Serve HTTP, then reach Kafka (topics, producer), retrying while it is away, then start the rest. Returns
        once started, or early when stop() was called while Kafka was still away."""
        await self.state.pool  # opens no connection yet (min_size 0): PostgreSQL may come up after us
        self.tasks = [asyncio.create_task(self.server.serve(), name="http")]
        self.tasks.append(asyncio.create_task(refresh_overrides(self.state), name="overrides"))
        self.tasks.append(asyncio.create_task(watch_config(self.state), name="config-watch"))
        await self._until_listening()
        if not await until_connected(self._connect_kafka, self.state.stopping, "router"):
            return
        # Every role publishes: the API's actions (acknowledge, escalate now, reassign) write pages too, and an
        # API-only process that never ran the outbox kept them in memory for good and left them to another
        # process's poller, seconds late, or to none.
        self.tasks.append(asyncio.create_task(self.state.publisher.run(self.state.stopping), name="outbox"))
        if self.consume:
            self.tasks += [asyncio.create_task(loop.run(), name="consumer") for loop in self.loops]
            self.tasks.append(asyncio.create_task(run_timers(self.state), name="timers"))
            self.tasks.append(asyncio.create_task(run_drill_schedule(self.state), name="drill-schedule"))
        self.state.started.set()
        log.info("router_started", consume=self.consume, port=self.state.settings.port)

    async def _connect_kafka(self) -> None:
        await ensure_project_topics(self.state.settings)
        await self.state.producer.start()  # a failed start leaves nothing behind: it may be called again

    async def _until_listening(self, timeout: float = 30) -> None:
        async with asyncio.timeout(timeout):
            while not self.server.started:
                if self.tasks[0].done():
                    raise RuntimeError(f"HTTP server did not start on port {self.state.settings.port}")
                await asyncio.sleep(0.02)

    def stop(self) -> None:
        self.state.stopping.set()
        for loop in self.loops:
            loop.stop()
        self.server.should_exit = True

    async def wait(self) -> None:
        """Until every task ended; one task failing stops the others (the process then exits non-zero)."""
        failed = False
        try:
            pending = set(self.tasks)
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    if not task.cancelled() and task.exception() is not None:
                        log.error("router_task_failed", task=task.get_name(), error=repr(task.exception()))
                        failed = True
                        self.stop()
        finally:
            if self.state.started.is_set():  # the producer and the publisher ran: pages handed over since go out
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.state.publisher.drain(), DRAIN_SECONDS)
            await self.state.producer.stop()
            await self.state.pool.close()
            await self.state.engine.dispose()
            log.info("router_stopped")
        if failed:
            raise SystemExit(1)


async def refresh_overrides(state: RouterState) -> None:
    """Every process reads the API's schedule overrides now and then; a database outage keeps the last ones."""
    while not state.stopping.is_set():
        try:
            async with state.pool.acquire() as conn:
                state.configs.use(await overrides.in_effect(conn, state.clock.now()))
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("overrides_refresh_failed", error=repr(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.stopping.wait(), state.settings.overrides_poll_seconds)


SIGNAL_CLIENT = Principal(role=Role.ADMIN, client="sighup")
_audits: set[asyncio.Task[None]] = set()  # running audit writes of signal reloads (kept from the GC)


def reload_on_signal(state: RouterState) -> asyncio.Task[None]:
    """SIGHUP: reload (failures logged and counted, never raised), keep the version, record it in the audit trail."""
    before = {"version": state.configs.current.version}
    state.configs.reload_logged("sighup", SIGNAL_CLIENT.actor)
    after: dict[str, Any] = {"version": state.configs.current.version}
    if state.configs.last_error:
        after["rejected"] = state.configs.last_error

    async def keep_and_audit() -> None:
        await keep_loaded(state)
        await audit.record_reload(state.engine, SIGNAL_CLIENT, state.clock.now(), before, after)

    task = asyncio.create_task(keep_and_audit())
    _audits.add(task)
    task.add_done_callback(_audits.discard)
    return task


async def run_router(
    settings: RouterSettings, *, consume: bool = True, serve_api: bool = True, clock: Clock | None = None
) -> None:
    runtime = RouterRuntime(settings, consume=consume, serve_api=serve_api, clock=clock)
    running = asyncio.get_running_loop()
    running.add_signal_handler(signal.SIGTERM, runtime.stop)  # before start: it may wait long for Kafka
    running.add_signal_handler(signal.SIGINT, runtime.stop)
    running.add_signal_handler(signal.SIGHUP, reload_on_signal, runtime.state)
    await runtime.start()
    await runtime.wait()
