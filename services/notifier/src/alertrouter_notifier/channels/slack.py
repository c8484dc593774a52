"""Slack: incoming webhooks (the contact address is the hook URL) and ``chat.postMessage`` (the address is a
user, DM or channel id, sent with the bot token).

Messages posted with the bot token carry real acknowledge/resolve buttons when interactivity is configured
(``NOTIFIER_SLACK_SIGNING_SECRET``; the clicks arrive at slack_interactions.py), and can be updated in place.
Incoming webhooks answer errors as plain-text bodies with 4xx/5xx statuses and keep link buttons.
"""

from __future__ import annotations

import httpx

from alertrouter_notifier.channels.base import Outgoing, Receipt
from alertrouter_notifier.channels.http import raise_for_http_status, short_body, transport_errors
from alertrouter_notifier.channels.slack_api import SlackApi
from alertrouter_notifier.rendering.slack import slack_message


class SlackProvider:
    name = "slack"

    def __init__(self, client: httpx.AsyncClient, api: SlackApi, *, interactive: bool = False) -> None:
        self._client = client
        self._api = api
        self._interactive = interactive

    async def send(self, outgoing: Outgoing) -> Receipt:
        address = outgoing.page.contact_method.address.strip()
        if address.startswith(("https://", "http://")):
            return await self._incoming_webhook(address, slack_message(outgoing.page, outgoing.links))
        message = slack_message(outgoing.page, outgoing.links, interactive=self._interactive)
        return Receipt(provider_message_id=await self._api.post_message(address, message), provider_status_code="ok")

    async def _incoming_webhook(self, url: str, message: dict[str, object]) -> Receipt:
        async with transport_errors("slack-webhook"):
            response = await self._client.post(url, json=message)
        raise_for_http_status("slack-webhook", response, short_body(response))
        return Receipt(provider_status_code=str(response.status_code))

    async def aclose(self) -> None:
        """The HTTP client is closed by its owner."""
