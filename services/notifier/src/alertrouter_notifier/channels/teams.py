"""Microsoft Teams: an Adaptive Card posted to a Workflows (or legacy incoming) webhook; the address is the URL.

Workflows answer 202 once the flow run is queued (not a delivery confirmation). Legacy connectors report
throttling inside a 2xx body ("... returned HTTP error 429 ..."), so a 2xx body is inspected too.
"""

from __future__ import annotations

import re

import httpx

from alertrouter_notifier.channels.base import Outgoing, Receipt, SendPermanentError, SendTransientError
from alertrouter_notifier.channels.http import raise_for_http_status, transport_errors
from alertrouter_notifier.rendering.chat import teams_card

_EMBEDDED_ERROR = re.compile(r"returned HTTP error (\d{3})")


class TeamsProvider:
    name = "teams"

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def send(self, outgoing: Outgoing) -> Receipt:
        url = outgoing.page.contact_method.address.strip()
        async with transport_errors(self.name):
            response = await self._client.post(url, json=teams_card(outgoing.page, outgoing.links))
        raise_for_http_status(self.name, response)
        embedded = _EMBEDDED_ERROR.search(response.text)
        if embedded:
            code = int(embedded.group(1))
            detail = f"teams: connector reported HTTP {code} in a {response.status_code} body"
            if code == 429 or code >= 500:
                raise SendTransientError(detail, status_code=str(code))
            raise SendPermanentError(detail, status_code=str(code))
        return Receipt(
            provider_message_id=response.headers.get("x-ms-workflow-run-id"),
            provider_status_code=str(response.status_code),
        )

    async def aclose(self) -> None:
        """The shared HTTP client is closed by its owner."""
