"""Fixtures for the notifier suite: migrated database, isolated topics, settings, pages and provider servers.

Every test gets its own topics and consumer group (the broker is shared with other suites, whose pages must
never reach a notifier started here) and unique ids and addresses (the database is shared too).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from alertrouter_notifier.db.migrate import upgrade_to_head
from alertrouter_notifier.settings import NotifierSettings
from alertrouter_shared.auth import hash_token
from alertrouter_shared.events import ContactMethod, ContactMethodType, Page, Severity
from alertrouter_shared.kafka import ensure_topics
from alertrouter_shared.settings import CommonSettings
from alertrouter_shared.topics import TopicSpec
from tests.helpers import DatabaseFactory, TopicReader
from tests.notifier.live import LiveRouter, live_router
from tests.notifier.support import (
    ACK_SECRET,
    READ_TOKEN,
    SLACK_TOKEN,
    TWILIO_SID,
    TWILIO_TOKEN,
    WEBHOOK_SECRET,
    WRITE_ONLY_TOKEN,
)
from tests.providers.servers import CaptureServer, SlackServer, TeamsServer, TwilioServer

SettingsFactory = Callable[..., NotifierSettings]
PageFactory = Callable[..., Page]


@pytest.fixture(scope="session")
async def notifier_database(database_url: str) -> str:
    await asyncio.to_thread(upgrade_to_head, database_url, 30)
    return database_url


@pytest.fixture
def topics(unique: str) -> dict[str, str]:
    return {
        "pages_topic": f"test.notifier.pages.{unique}",
        "deliveries_topic": f"test.notifier.deliveries.{unique}",
        "pages_dlq_topic": f"test.notifier.pages-dlq.{unique}",
    }


@pytest.fixture
async def make_settings(
    kafka_bootstrap: str, notifier_database: str, topics: dict[str, str], unique: str
) -> SettingsFactory:
    specs = [TopicSpec(name, 1, 1) for name in topics.values()]
    await ensure_topics(CommonSettings(kafka_bootstrap_servers=kafka_bootstrap), specs)

    def factory(**overrides: Any) -> NotifierSettings:
        values: dict[str, Any] = {
            "kafka_bootstrap_servers": kafka_bootstrap,
            "database_url": notifier_database,
            "kafka_create_topics": False,
            "consumer_group": f"notifier-test-{unique}",
            "api_tokens": f"{hash_token(READ_TOKEN)}:read,{hash_token(WRITE_ONLY_TOKEN)}:write",
            "public_url": "http://notifier.test",
            "webhook_signing_secret": WEBHOOK_SECRET,
            "ack_signing_secret": ACK_SECRET,
            "retry_base_seconds": 0.05,
            "retry_max_seconds": 0.3,
            "retry_deadline_seconds": 20,
            "retry_poll_seconds": 0.05,
            "http_timeout_seconds": 1.0,
            "smtp_timeout_seconds": 1.0,
            "twilio_account_sid": TWILIO_SID,
            "twilio_auth_token": TWILIO_TOKEN,
            "twilio_from": "+12015550123",
            "slack_bot_token": SLACK_TOKEN,
            "smtp_host": "127.0.0.1",
            "smtp_security": "none",
            "smtp_from": "alertrouter@example.test",
            **topics,
        }
        values.update(overrides)
        return NotifierSettings(**values)

    return factory


@pytest.fixture
def make_page(unique: str) -> PageFactory:
    counter = iter(range(1, 1_000_000))

    def factory(channel: ContactMethodType, address: str, **overrides: Any) -> Page:
        n = next(counter)
        now = datetime.now(UTC)
        values: dict[str, Any] = {
            "page_id": f"page-{unique}-{n}",
            "incident_id": f"inc-{unique}",
            "decision_id": f"dec-{unique}-{n}",
            "dedup_key": f"prod/checkout/HighErrorRate/{unique}",
            "service_id": "checkout",
            "service_name": "checkout",
            "team_id": "payments",
            "user_id": "alice",
            "user_name": "Alice Example",
            "contact_method": ContactMethod(id=f"cm-{channel.value}-{unique}", type=channel, address=address),
            "summary": "5xx ratio is 7.3% (threshold 5%)",
            "severity": Severity.CRITICAL,
            "labels": {"env": "prod", "alertname": "HighErrorRate", "api_token": "s3cr3t-value"},
            "runbook_url": "https://runbooks.example.com/checkout/high-error-rate",
            "send_at": now,
            "created_at": now,
        }
        values.update(overrides)
        return Page(**values)

    return factory


@pytest.fixture
async def deliveries_reader(kafka_bootstrap: str, topics: dict[str, str]) -> AsyncIterator[TopicReader]:
    reader = await TopicReader(kafka_bootstrap, topics["deliveries_topic"]).start()
    yield reader
    await reader.stop()


@pytest.fixture
def capture() -> Iterator[CaptureServer]:
    with CaptureServer(secret=WEBHOOK_SECRET) as server:
        yield server


@pytest.fixture
def twilio() -> Iterator[TwilioServer]:
    with TwilioServer(account_sid=TWILIO_SID, auth_token=TWILIO_TOKEN) as server:
        yield server


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    with SlackServer(bot_token=SLACK_TOKEN) as server:
        yield server


@pytest.fixture
def teams() -> Iterator[TeamsServer]:
    with TeamsServer() as server:
        yield server


@pytest.fixture(scope="module")  # not session-wide: a second router consuming the alerts topic would double pages
async def router_live(
    kafka_bootstrap: str, databases: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveRouter]:
    """The real router (its own database), for the tests where people answer pages."""
    async with live_router(kafka_bootstrap, databases.create(), tmp_path_factory.mktemp("ownership")) as router:
        yield router
