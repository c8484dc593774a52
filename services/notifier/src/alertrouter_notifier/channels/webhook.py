"""Generic signed webhook: POST the page as JSON to the contact method's URL."""

from __future__ import annotations

import time

import httpx

from alertrouter_notifier.channels.base import Outgoing, Receipt
from alertrouter_notifier.channels.http import raise_for_http_status, transport_errors
from alertrouter_notifier.rendering.webhook import DELIVERY_HEADER, SIGNATURE_HEADER, sign, webhook_body


class WebhookProvider:
    name = "webhook"

    def __init__(self, client: httpx.AsyncClient, signing_secret: str) -> None:
        self._client = client
        self._secret = signing_secret

    async def send(self, outgoing: Outgoing) -> Receipt:
        body = webhook_body(outgoing)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "alertrouter-notifier/1",
            DELIVERY_HEADER: outgoing.delivery_id,
            "Idempotency-Key": outgoing.delivery_id,
        }
        if self._secret:
            headers[SIGNATURE_HEADER] = sign(self._secret, body, int(time.time()))
        async with transport_errors(self.name):
            response = await self._client.post(outgoing.page.contact_method.address, content=body, headers=headers)
        raise_for_http_status(self.name, response)
        return Receipt(
            provider_message_id=response.headers.get("X-Request-Id") or None,
            provider_status_code=str(response.status_code),
        )

    async def aclose(self) -> None:
        """The shared HTTP client is closed by its owner."""
