"""Composition root: builds the notifier's parts from settings and runs them in one process.

``Notifier`` is usable in-process by tests (``async with Notifier(settings) as n: ...``) as well as by the CLI,
which adds the HTTP server. Start order: database engine, producer, topics, dispatcher and retry worker,
consumer. Stop order is the reverse, draining sends in progress so their outcomes are recorded.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from types import TracebackType

import httpx
from fastapi import FastAPI

from alertrouter_notifier.api.app import create_app
from alertrouter_notifier.channels.factory import build_channels
from alertrouter_notifier.channels.http import make_http_client
from alertrouter_notifier.channels.registry import ChannelSet
from alertrouter_notifier.consumer import PageHandler
from alertrouter_notifier.dispatcher import Dispatcher
from alertrouter_notifier.links import LinkBuilder
from alertrouter_notifier.policy import ATTEMPT_WAITS, DeliveryPolicy
from alertrouter_notifier.public_url import check_public_url
from alertrouter_notifier.publisher import ResultPublisher
from alertrouter_notifier.retry_worker import RetryWorker
from alertrouter_notifier.settings import NotifierSettings
from alertrouter_shared.clock import Clock, SystemClock
from alertrouter_shared.consumer_loop import ConsumerLoop, ConsumerOptions, make_consumer
from alertrouter_shared.database import engine_connections, make_engine
from alertrouter_shared.events import ContactMethodType
from alertrouter_shared.kafka import (
    ensure_project_topics,
    ensure_topics,
    kafka_reachable,
    make_producer,
    until_connected,
)
from alertrouter_shared.logging import get_logger
from alertrouter_shared.topics import TopicSpec

log = get_logger(__name__)

DRAIN_SECONDS = 15.0


def max_db_connections(settings: NotifierSettings) -> int:
    """The most PostgreSQL connections one notifier process holds: its one SQLAlchemy engine, sized by
    ``NOTIFIER_DB_POOL_SIZE``. docs/deployment.md sizes ``max_connections`` with it."""
    return engine_connections(settings.db_pool_size)


class Notifier:
    """Every long-lived part of one notifier process, wired together."""

    def __init__(
        self,
        settings: NotifierSettings,
        *,
        clock: Clock | None = None,
        channels: ChannelSet | None = None,
        consume: bool = True,
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.policy = DeliveryPolicy.from_settings(settings)
        self.engine = make_engine(settings.database_url, settings.db_pool_size)
        self.http: httpx.AsyncClient = make_http_client(settings.http_timeout_seconds)
        self.producer = make_producer(settings)
        self.channels = channels or build_channels(settings, self.engine)
        self.publisher = ResultPublisher(
            self.engine, self.producer, self.clock, settings.publish_timeout_seconds, settings.deliveries_topic
        )
        links = LinkBuilder(
            settings.public_url,
            settings.ack_signing_secret.get_secret_value(),
            timedelta(seconds=settings.ack_token_ttl_seconds),
            settings.console_url,
        )
        self.dispatcher = Dispatcher(
            self.engine,
            self.channels,
            self.publisher,
            self.policy,
            links,
            self.clock,
            max_concurrent=settings.max_concurrent_sends,
            claim_batch=settings.claim_batch_size,
        )
        self.worker = RetryWorker(
            self.engine,
            self.dispatcher,
            self.publisher,
            self.policy,
            self.clock,
            settings.retry_poll_seconds,
            settings.retention_days,
        )
        self.dispatcher.call_when_room(self.worker.wake)  # what did not fit waits for a slot, not for the next poll
        self.handler = PageHandler(
            self.engine,
            self.producer,
            self.dispatcher,
            self.publisher,
            self.policy,
            self.clock,
            settings.publish_timeout_seconds,
            settings.pages_dlq_topic,
        )
        self._consume = consume
        self.consumer_loop: ConsumerLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stop_starting = asyncio.Event()
        self.started = asyncio.Event()  # Kafka reached at start and every task running; /readyz waits for it

    def create_app(self) -> FastAPI:
        return create_app(
            self.settings,
            self.engine,
            http=self.http,
            publisher=self.publisher,
            clock=self.clock,
            kafka_probe=self._kafka_usable,
        )

    async def _kafka_usable(self) -> bool:
        return self.started.is_set() and await kafka_reachable(self.settings)

    async def start(self) -> None:
        """Reach Kafka (topics, producer), retrying while it is away, then start the workers. Returns once started,
        or early when ``stop()`` came first; raises ``PublicUrlError`` at once for a public URL that cannot work."""
        check_public_url(self.settings)  # before any connection: a public URL that cannot work stops us here
        if not await until_connected(self._connect_kafka, self._stop_starting, "notifier"):
            return
        self._tasks.append(asyncio.create_task(self.worker.run(), name="notifier-retry-worker"))
        if self._consume:
            options = ConsumerOptions(group_id=self.settings.consumer_group, topics=[self.settings.pages_topic])
            consumer = make_consumer(self.settings, options)
            self.consumer_loop = ConsumerLoop(consumer, self.handler, options)
            self._tasks.append(asyncio.create_task(self.consumer_loop.run(), name="notifier-consumer"))
        self._warn_about_missing_secrets()
        if self.policy.send_lease.total_seconds() <= self.policy.attempt_timeout:
            log.warning(
                "send_lease_within_attempt_timeout",
                hint=f"a send may outlive its lease and be sent twice: keep NOTIFIER_SEND_LEASE_SECONDS above "
                f"{ATTEMPT_WAITS} x the HTTP/SMTP timeout ({self.policy.attempt_timeout:g} s)",
            )
        self.started.set()
        log.info("notifier_started", channels=[c.value for c in self.channels.configured()])

    async def _connect_kafka(self) -> None:
        await ensure_project_topics(self.settings)
        if self.settings.kafka_create_topics:
            await ensure_topics(self.settings, self._own_topics())
        await self.producer.start()  # a failed start leaves nothing behind: it may be called again

    def _warn_about_missing_secrets(self) -> None:
        s = self.settings
        if not s.webhook_signing_secret.get_secret_value():
            log.warning("webhook_unsigned", hint="set NOTIFIER_WEBHOOK_SIGNING_SECRET so receivers can verify")
        if not s.ack_signing_secret.get_secret_value():
            log.warning("ack_links_disabled", hint="set NOTIFIER_ACK_SIGNING_SECRET to put ack links in messages")
        if not self.channels.providers(ContactMethodType.SMS):
            log.warning("sms_not_configured", hint="set NOTIFIER_TWILIO_ACCOUNT_SID and NOTIFIER_TWILIO_AUTH_TOKEN")
        if not s.router_api_token.get_secret_value():
            log.warning(
                "answers_cannot_act",
                hint="set NOTIFIER_ROUTER_API_TOKEN (a router token with read+write) so links, SMS replies, "
                "key presses and Slack buttons can acknowledge",
            )

    def _own_topics(self) -> list[TopicSpec]:
        """Topic names are settings (tests use their own); the broker never auto-creates them."""
        s = self.settings
        names = {s.pages_topic, s.deliveries_topic, s.pages_dlq_topic}
        return [TopicSpec(name, s.kafka_topic_partitions, s.kafka_topic_replication_factor) for name in sorted(names)]

    async def stop(self) -> None:
        self._stop_starting.set()
        if self.consumer_loop is not None:
            self.consumer_loop.stop()
        self.worker.stop()
        await self._end_tasks()
        await self.dispatcher.drain(DRAIN_SECONDS)
        await self.publisher.close()
        await self.producer.stop()
        await self.channels.aclose()
        await self.http.aclose()
        await self.engine.dispose()
        log.info("notifier_stopped")

    async def _end_tasks(self) -> None:
        """Each worker ends (cancelled after ``DRAIN_SECONDS``); however one ended, the stop goes on to drain the
        sends in progress: a worker that raised, or ended cancelled, must not leave their outcomes unrecorded (their
        pages would be sent again once the leases ran out). ``failed_task`` reports a worker that raised."""
        if not self._tasks:
            return
        _, late = await asyncio.wait(self._tasks, timeout=DRAIN_SECONDS)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)
        for task in self._tasks:
            if not task.cancelled() and task.exception() is not None:
                log.warning("notifier_worker_ended_with_error", task=task.get_name(), error=repr(task.exception()))

    @property
    def failed_task(self) -> BaseException | None:
        """A background task that died (the CLI exits non-zero rather than run half a service)."""
        for task in self._tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                return task.exception()
        return None

    async def __aenter__(self) -> Notifier:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
