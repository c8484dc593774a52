"""One contract, every channel: success, transient then success, permanent failure, timeout, rate limit.

Each case runs the whole notifier (real Kafka, real PostgreSQL) against a local server speaking the provider's
API shape, with the provider's own success and error bodies. SMTP has no Retry-After; its rate-limit case is
the "421 service not available" reply, which must be retried the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from alertrouter_notifier.runtime import Notifier
from alertrouter_shared.events import ContactMethodType
from tests.notifier.conftest import PageFactory, SettingsFactory
from tests.notifier.support import WEBHOOK_SECRET, api_client, final_delivery, produce_pages
from tests.providers.servers import (
    CaptureServer,
    ProviderServer,
    Reply,
    SlackServer,
    TeamsServer,
    TwilioServer,
)
from tests.providers.smtp import SmtpServer, fixture_reply

TIMEOUT_DELAY = 2.5  # the client timeout in these tests is 1 s


@dataclass
class Harness:
    """How one channel's local server is scripted and inspected."""

    channel: ContactMethodType
    address: str
    settings: dict[str, Any]
    transient: Callable[[], None]
    permanent: Callable[[], None]
    timeout: Callable[[], None]
    rate_limited: Callable[[], None]
    accepted: Callable[[], int]
    requests: Callable[[], int | None]
    retry_after: float | None = 1.0


def _http(server: ProviderServer, accepted: Callable[[], int], **scripts: Reply) -> dict[str, Any]:
    return {
        "transient": lambda: server.script(scripts["transient"]),
        "permanent": lambda: server.script(scripts["permanent"]),
        "timeout": lambda: server.script(Reply.timeout(TIMEOUT_DELAY)),
        "rate_limited": lambda: server.script(scripts["rate_limited"]),
        "accepted": accepted,
        "requests": lambda: len(server.requests),
    }


def twilio_harness() -> Iterator[Harness]:
    with TwilioServer(account_sid="ACcontract", auth_token="tok") as server:
        yield Harness(
            ContactMethodType.SMS,
            "+447700900123",
            {"twilio_base_url": server.url, "twilio_account_sid": "ACcontract", "twilio_auth_token": "tok"},
            **_http(
                server,
                lambda: len(server.messages),
                transient=Reply(500, {"code": 20500, "message": "Internal Server Error", "status": 500}),
                permanent=Reply.twilio_error(21211),
                rate_limited=Reply.twilio_error(20429, retry_after="1"),
            ),
        )


def slack_webhook_harness() -> Iterator[Harness]:
    with SlackServer() as server:
        yield Harness(
            ContactMethodType.SLACK,
            f"{server.url}/services/T0001/B0001/secret",
            {},
            **_http(
                server,
                lambda: len(server.messages),
                transient=Reply.from_fixture("slack/webhook-response-rollup_error.http.json"),
                permanent=Reply.from_fixture("slack/webhook-response-channel_not_found.http.json"),
                rate_limited=Reply.from_fixture("slack/webhook-response-rate-limited.http.json"),
            ),
        )


def slack_api_harness() -> Iterator[Harness]:
    with SlackServer(bot_token="xoxb-contract") as server:
        limited = Reply.from_fixture("slack/chat-postMessage-ratelimited.http.json")
        limited.headers["Retry-After"] = "1"
        yield Harness(
            ContactMethodType.SLACK,
            "U0123ABCDEF",
            {"slack_api_url": f"{server.url}/api", "slack_bot_token": "xoxb-contract"},
            **_http(
                server,
                lambda: len(server.messages),
                transient=Reply(200, {"ok": False, "error": "fatal_error"}),
                permanent=Reply(200, {"ok": False, "error": "channel_not_found"}),
                rate_limited=limited,
            ),
        )


def teams_harness() -> Iterator[Harness]:
    with TeamsServer() as server:
        yield Harness(
            ContactMethodType.TEAMS,
            f"{server.url}/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig=secret",
            {},
            **_http(
                server,
                lambda: len(server.cards),
                transient=Reply(502, {"error": {"code": "BadGateway", "message": "upstream"}}),
                permanent=Reply(404, {"error": {"code": "WorkflowNotFound", "message": "gone"}}),
                rate_limited=Reply(429, {"error": {"code": "TooManyRequests"}}, {"Retry-After": "1"}),
            ),
        )


def webhook_harness() -> Iterator[Harness]:
    with CaptureServer(secret=WEBHOOK_SECRET) as server:
        yield Harness(
            ContactMethodType.WEBHOOK,
            f"{server.url}/hook",
            {},
            **_http(
                server,
                lambda: len(server.pages()),
                transient=Reply(503, {"error": "maintenance"}),
                permanent=Reply(410, {"error": "gone"}),
                rate_limited=Reply(429, {"error": "slow down"}, {"Retry-After": "1"}),
            ),
        )


def smtp_harness() -> Iterator[Harness]:
    with SmtpServer() as server:
        yield Harness(
            ContactMethodType.EMAIL,
            "alice@example.test",
            {"smtp_host": "127.0.0.1", "smtp_port": server.port, "smtp_security": "none"},
            transient=lambda: server.rcpt_script.append(fixture_reply("451")),
            permanent=lambda: server.rcpt_script.append(fixture_reply("550")),
            timeout=lambda: server.data_script.append(f"delay:{TIMEOUT_DELAY}"),
            rate_limited=lambda: server.rcpt_script.append(fixture_reply("421")),
            accepted=lambda: len(server.messages),
            requests=lambda: None,
            retry_after=None,
        )


HARNESSES = {
    "sms-twilio": twilio_harness,
    "email-smtp": smtp_harness,
    "slack-webhook": slack_webhook_harness,
    "slack-api": slack_api_harness,
    "teams-workflow": teams_harness,
    "webhook": webhook_harness,
}


@pytest.fixture(params=list(HARNESSES))
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    yield from HARNESSES[request.param]()


async def _deliver(
    harness: Harness, make_settings: SettingsFactory, make_page: PageFactory
) -> tuple[dict[str, Any], Notifier]:
    unlimited = {f"throttle_{c}_max": 0 for c in ("sms", "email", "slack", "teams", "webhook")}
    settings = make_settings(**unlimited, **harness.settings)
    page = make_page(harness.channel, harness.address)
    async with Notifier(settings) as notifier, api_client(notifier) as client:
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [page])
        return await final_delivery(client, page.page_id), notifier


def _at(attempt: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(attempt["at"])


async def test_success(harness: Harness, make_settings: SettingsFactory, make_page: PageFactory) -> None:
    delivery, _ = await _deliver(harness, make_settings, make_page)
    assert delivery["status"] == "sent"
    assert [a["status"] for a in delivery["attempts"]] == ["sent"]
    assert delivery["attempts"][0]["latency_ms"] > 0
    assert harness.accepted() == 1


async def test_transient_then_success(harness: Harness, make_settings: SettingsFactory, make_page: PageFactory) -> None:
    harness.transient()
    delivery, _ = await _deliver(harness, make_settings, make_page)
    assert delivery["status"] == "sent"
    assert [a["status"] for a in delivery["attempts"]] == ["retrying", "sent"]
    assert delivery["attempts"][0]["error"]
    assert harness.accepted() == 1


async def test_permanent_failure_is_not_retried(
    harness: Harness, make_settings: SettingsFactory, make_page: PageFactory
) -> None:
    harness.permanent()
    delivery, _ = await _deliver(harness, make_settings, make_page)
    assert delivery["status"] == "failed"
    assert [a["status"] for a in delivery["attempts"]] == ["failed"]
    assert delivery["attempts"][0]["provider_status_code"]
    assert harness.accepted() == 0
    assert harness.requests() in (1, None)


async def test_timeout_is_retried(harness: Harness, make_settings: SettingsFactory, make_page: PageFactory) -> None:
    harness.timeout()
    delivery, _ = await _deliver(harness, make_settings, make_page)
    assert delivery["status"] == "sent"
    first, last = delivery["attempts"]
    assert first["status"] == "retrying"
    assert first["latency_ms"] >= 900  # the client gave up at its 1 s timeout, not the server
    assert last["status"] == "sent"
    assert harness.accepted() == 1


async def test_rate_limit_waits_for_retry_after(
    harness: Harness, make_settings: SettingsFactory, make_page: PageFactory
) -> None:
    harness.rate_limited()
    delivery, _ = await _deliver(harness, make_settings, make_page)
    assert delivery["status"] == "sent"
    first, last = delivery["attempts"]
    assert first["status"] == "retrying"
    if harness.retry_after is not None:
        assert (_at(last) - _at(first)).total_seconds() >= harness.retry_after - 0.05
    assert harness.accepted() == 1
