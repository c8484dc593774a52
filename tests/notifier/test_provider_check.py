"""POST /v1/providers/check: each provider's own check against local servers speaking the providers' wire formats
(Twilio's account fetch with basic auth, Slack's auth.test, an SMTP server with STARTTLS and AUTH); nothing is sent."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from alertrouter_notifier.api.app import create_app
from alertrouter_notifier.settings import NotifierSettings
from alertrouter_shared.database import make_engine
from tests.notifier.conftest import SettingsFactory
from tests.notifier.support import TWILIO_SID, WRITE_ONLY_TOKEN, auth
from tests.providers.servers import SlackServer, TwilioServer
from tests.providers.smtp import SmtpServer


@pytest.fixture
def tls_smtp(tmp_path: Path) -> Iterator[tuple[SmtpServer, Path]]:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with SmtpServer(tls_context=server_context, username="mailer", password="s3cret") as server:
        yield server, ca_file


async def _check(settings: NotifierSettings, body: Any, token: str | None = None) -> httpx.Response:
    engine = make_engine(settings.database_url)
    async with httpx.AsyncClient() as http:
        app = create_app(settings, engine, http=http)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://n") as client:
            headers = auth(token) if token else auth()
            response = await client.post("/v1/providers/check", json=body, headers=headers)
    await engine.dispose()
    return response


def _by_provider(response: httpx.Response) -> dict[tuple[str, str], dict[str, Any]]:
    assert response.status_code == 200, response.text
    return {(p["channel"], p["provider"]): p for p in response.json()["providers"]}


async def test_every_configured_provider_passes_its_own_check_and_nothing_is_sent(
    make_settings: SettingsFactory,
    twilio: TwilioServer,
    slack: SlackServer,
    tls_smtp: tuple[SmtpServer, Path],
) -> None:
    smtp, ca_file = tls_smtp
    settings = make_settings(
        twilio_base_url=twilio.url,
        slack_api_url=f"{slack.url}/api",
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_security="starttls",
        smtp_ca_file=str(ca_file),
        smtp_username="mailer",
        smtp_password="s3cret",
    )
    response = await _check(settings, {"channels": ["sms", "voice", "slack", "email", "teams", "webhook"]})
    found = _by_provider(response)
    assert found[("sms", "twilio")]["status"] == "ok" and found[("sms", "twilio")]["detail"] == "account active"
    assert found[("voice", "twilio-voice")]["status"] == "ok"
    assert found[("slack", "slack-api")] | {"seconds": 0} == {
        "channel": "slack",
        "provider": "slack-api",
        "status": "ok",
        "detail": "bot token valid for team Subarachnoid Workspace as alertrouter",
        "seconds": 0,
    }
    assert found[("email", "smtp")]["status"] == "ok", found[("email", "smtp")]
    assert "EHLO, STARTTLS, AUTH" in found[("email", "smtp")]["detail"]
    assert found[("teams", "-")]["status"] == "not checked" and "without posting" in found[("teams", "-")]["detail"]
    assert found[("webhook", "-")]["status"] == "not checked"

    fetched = twilio.matching(lambda r: r.method == "GET")
    assert [r.path for r in fetched] == [f"/2010-04-01/Accounts/{TWILIO_SID}.json"] * 2  # sms and voice
    assert fetched[0].header("Authorization").startswith("Basic ")
    assert twilio.messages == [] and twilio.calls == []
    assert [r.path for r in slack.requests] == ["/api/auth.test"] and slack.messages == []
    assert smtp.messages == []


async def test_wrong_credentials_fail_with_a_masked_reason(
    make_settings: SettingsFactory, twilio: TwilioServer, slack: SlackServer, tls_smtp: tuple[SmtpServer, Path]
) -> None:
    smtp, ca_file = tls_smtp
    settings = make_settings(
        twilio_base_url=twilio.url,
        twilio_auth_token="not-the-token",
        slack_api_url=f"{slack.url}/api",
        slack_bot_token="xoxb-revoked",
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_security="starttls",
        smtp_ca_file=str(ca_file),
        smtp_username="mailer",
        smtp_password="wrong",
        sms_secondary_base_url="http://127.0.0.1:9",  # nothing listens on the discard port
        sms_secondary_account_sid="AC00000000000000000000000000000000",
        sms_secondary_auth_token="x",
    )
    found = _by_provider(await _check(settings, {"channels": ["sms", "slack", "email"]}))
    twilio_result = found[("sms", "twilio")]
    assert twilio_result["status"] == "failed"
    assert twilio_result["detail"] == "twilio: HTTP 401 code 20003: Authenticate"
    assert found[("sms", "sms-secondary")]["status"] == "failed"
    assert "ConnectError" in found[("sms", "sms-secondary")]["detail"]
    assert found[("slack", "slack-api")] | {"seconds": 0} == {
        "channel": "slack",
        "provider": "slack-api",
        "status": "failed",
        "detail": "slack-api: invalid_auth",
        "seconds": 0,
    }
    assert found[("email", "smtp")]["status"] == "failed" and found[("email", "smtp")]["detail"].startswith("smtp: 535")
    assert "not-the-token" not in str(found) and "wrong" not in str(found)


async def test_a_suspended_account_and_missing_providers(make_settings: SettingsFactory, twilio: TwilioServer) -> None:
    twilio.account_status = "suspended"
    settings = make_settings(twilio_base_url=twilio.url, slack_bot_token="", smtp_host="", public_url="")
    found = _by_provider(await _check(settings, {"channels": ["sms", "voice", "email", "slack"]}))
    assert found[("sms", "twilio")]["status"] == "failed"
    assert found[("sms", "twilio")]["detail"] == "twilio: the account is suspended"
    assert found[("voice", "-")]["status"] == "not configured"
    assert found[("email", "-")]["status"] == "not configured"
    assert found[("slack", "-")]["status"] == "not checked"
    assert "incoming webhooks" in found[("slack", "-")]["detail"]


async def test_the_check_needs_a_read_token_and_valid_channels(make_settings: SettingsFactory) -> None:
    settings = make_settings(slack_bot_token="", smtp_host="")
    assert (await _check(settings, {"channels": ["teams"]}, token="nope")).status_code == 401
    assert (await _check(settings, {"channels": ["teams"]}, token=WRITE_ONLY_TOKEN)).status_code == 403
    refused = await _check(settings, {"channels": ["pager"]})
    assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"


async def test_each_twilio_account_is_checked_with_its_own_credentials(
    make_settings: SettingsFactory, twilio: TwilioServer
) -> None:
    secondary_sid = "AC11111111111111111111111111111111"
    with TwilioServer(account_sid=secondary_sid, auth_token="secondary-token") as secondary:
        settings = make_settings(
            twilio_base_url=twilio.url,
            sms_secondary_base_url=secondary.url,
            sms_secondary_account_sid=secondary_sid,
            sms_secondary_auth_token="stale-secondary-token",
        )
        found = _by_provider(await _check(settings, {"channels": ["sms"]}))
        assert found[("sms", "twilio")]["status"] == "ok"
        assert found[("sms", "sms-secondary")]["status"] == "failed"
        assert found[("sms", "sms-secondary")]["detail"] == "sms-secondary: HTTP 401 code 20003: Authenticate"
        [fetched] = secondary.requests
        assert fetched.path == f"/2010-04-01/Accounts/{secondary_sid}.json"
