"""Provider callbacks are read before their signature can be checked, from anyone on the internet: their bodies are
bounded (413 past a megabyte, never read further), as intake's are."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from alertrouter_notifier.api.context import CALLBACK_BODY_BYTES
from alertrouter_notifier.api.slack_interactions import INTERACTIONS_PATH
from alertrouter_notifier.api.sms_replies import INBOUND_PATH
from alertrouter_notifier.links import TWILIO_GATHER_PATH, TWILIO_STATUS_PATH, TWILIO_VOICE_STATUS_PATH
from alertrouter_notifier.runtime import Notifier
from tests.notifier.conftest import SettingsFactory
from tests.notifier.support import api_client
from tests.openapi_contract import Contract

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def _large() -> AsyncIterator[bytes]:
    """64 MiB without a Content-Length (a regression reads it all, then answers 401/403: a failure, not a hang)."""
    for _ in range(1024):
        yield b"a" * 65536


CALLBACKS = [INBOUND_PATH, TWILIO_STATUS_PATH, TWILIO_VOICE_STATUS_PATH, TWILIO_GATHER_PATH, INTERACTIONS_PATH]


@pytest.mark.parametrize("path", CALLBACKS)
async def test_an_oversized_callback_body_is_refused_without_reading_it_whole(
    make_settings: SettingsFactory, path: str
) -> None:
    settings = make_settings(slack_signing_secret="slack-signing-secret")
    async with Notifier(settings, consume=False) as notifier, api_client(notifier) as client:
        contract = Contract((await client.get("/openapi.json")).json())
        declared = await client.post(path, content=b"a" * (CALLBACK_BODY_BYTES + 1), headers=FORM)
        # no Content-Length: refused once a megabyte has arrived (before, all of it was read whatever its size)
        streamed = await asyncio.wait_for(client.post(path, content=_large(), headers=FORM), timeout=30)
    for response in (declared, streamed):
        contract.check(response)  # documented, with the Problem body
        assert response.status_code == 413, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert f"larger than the limit of {CALLBACK_BODY_BYTES} bytes" in response.json()["detail"]
