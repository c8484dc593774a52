"""Who may call the answer routes: Twilio's signature over the public URL (with or without its port, as Twilio
signs either), Slack's and the acknowledge links' in constant time -- and a signature header or link that is not
ASCII is a refusal like any other mismatch, never a 500."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from alertrouter_notifier.ack_tokens import InvalidToken, LinkAction, issue, verify
from alertrouter_notifier.api.slack_interactions import INTERACTIONS_PATH
from alertrouter_notifier.api.slack_interactions import signature_valid as slack_valid
from alertrouter_notifier.api.twilio_signature import signature_valid, twilio_signature, url_spellings
from alertrouter_notifier.links import TWILIO_STATUS_PATH
from alertrouter_notifier.runtime import Notifier
from tests.notifier.conftest import SettingsFactory
from tests.notifier.support import TWILIO_TOKEN, api_client

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_the_public_url_is_accepted_with_and_without_its_port() -> None:
    assert url_spellings("https://notifier.example.com/v1/twilio/status?x=1") == [
        "https://notifier.example.com/v1/twilio/status?x=1",
        "https://notifier.example.com:443/v1/twilio/status?x=1",
    ]
    assert url_spellings("https://notifier.example.com:443/p") == [
        "https://notifier.example.com:443/p",
        "https://notifier.example.com/p",
    ]
    assert url_spellings("http://[::1]:8082/p") == ["http://[::1]:8082/p", "http://[::1]/p"]
    params = [("MessageSid", "SM1"), ("MessageStatus", "delivered")]
    for signed_over in ("https://n.example.com/v1/twilio/status", "https://n.example.com:443/v1/twilio/status"):
        presented = twilio_signature("token", signed_over, params)
        assert signature_valid(["token"], "https://n.example.com/v1/twilio/status", params, presented)
    other_host = twilio_signature("token", "https://evil.example.com/v1/twilio/status", params)
    assert not signature_valid(["token"], "https://n.example.com/v1/twilio/status", params, other_host)


def test_signatures_that_are_not_ascii_are_mismatches() -> None:
    params = [("CallSid", "CA1")]
    assert not signature_valid(["token"], "https://n.example.com/x", params, "é" * 28)
    now = 1_800_000_000.0
    assert not slack_valid("secret", str(int(now)), b"payload=%7B%7D", "v0=é", now)
    assert not slack_valid("secret", "١٨٠٠٠٠٠٠٠٠", b"payload=%7B%7D", "v0=00", now)  # Arabic-Indic digits
    token = issue("secret", "incident-1", "alice", LinkAction.ACKNOWLEDGE, datetime.now(UTC), timedelta(hours=1))
    payload = token.partition(".")[0]
    with pytest.raises(InvalidToken):
        verify("secret", f"{payload}.é", datetime.now(UTC))


async def test_twilio_requests_signed_over_the_url_with_its_port_are_taken_and_odd_headers_refused(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings(public_url="https://notifier.example.com", slack_signing_secret="slack-secret")
    fields = {"MessageSid": "SMnotours", "MessageStatus": "delivered", "AccountSid": "AC1"}
    with_port = twilio_signature(
        TWILIO_TOKEN, f"https://notifier.example.com:443{TWILIO_STATUS_PATH}", list(fields.items())
    )
    body = urlencode(fields).encode()
    async with Notifier(settings, consume=False) as notifier, api_client(notifier) as client:
        taken = await client.post(TWILIO_STATUS_PATH, content=body, headers={**FORM, "X-Twilio-Signature": with_port})
        form = (b"content-type", b"application/x-www-form-urlencoded")
        odd = [form, (b"x-twilio-signature", "é".encode("latin-1"))]
        refused = await client.post(TWILIO_STATUS_PATH, content=body, headers=odd)
        slack_odd = [form, (b"x-slack-request-timestamp", b"1"), (b"x-slack-signature", "v0=é".encode("latin-1"))]
        slack_refused = await client.post(INTERACTIONS_PATH, content=b"payload=%7B%7D", headers=slack_odd)
        link = await client.get(f"/acknowledge/{'a' * 20}.%C3%A9")
    assert taken.status_code == 204, taken.text  # an SMS we never sent: nothing to update, but genuine
    assert refused.status_code == 403, refused.text
    assert slack_refused.status_code == 401, slack_refused.text
    assert link.status_code == 403, link.text
