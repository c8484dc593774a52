"""SMS through the Twilio Programmable Messaging REST API (and any Twilio-compatible API in the failover slot).

Error policy (FORMATS §5): 429 and 5xx are retried (a 5xx or a timeout may still have sent the SMS: for paging a
duplicate beats a miss); errors about the recipient (invalid number, opted out) are permanent and no other SMS
provider would do better; errors about our account or sender (authentication, From not capable) are permanent
for this provider but worth the failover provider.
"""

from __future__ import annotations

import httpx

from alertrouter_notifier.channels.base import (
    Outgoing,
    Receipt,
    SendPermanentError,
    SendTransientError,
    parse_retry_after,
)
from alertrouter_notifier.channels.http import RETRYABLE_STATUS, short_body, transport_errors
from alertrouter_notifier.rendering.sms import render_sms

RECIPIENT_ERRORS = frozenset({21211, 21214, 21217, 21610, 21612, 21614})


class TwilioProvider:
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        name: str,
        base_url: str,
        account_sid: str,
        auth_token: str,
        api_key_sid: str = "",
        from_number: str = "",
        messaging_service_sid: str = "",
        status_callback_url: str = "",
    ) -> None:
        self.name = name
        self._client = client
        self._url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self._auth = (api_key_sid or account_sid, auth_token)
        self._from = from_number
        self._messaging_service = messaging_service_sid
        self._status_callback = status_callback_url

    def form(self, outgoing: Outgoing) -> dict[str, str]:
        form = {"To": outgoing.page.contact_method.address.strip(), "Body": render_sms(outgoing.page, outgoing.links)}
        if self._messaging_service:
            form["MessagingServiceSid"] = self._messaging_service
        else:
            form["From"] = self._from
        if self._status_callback:
            form["StatusCallback"] = self._status_callback
        return form

    async def send(self, outgoing: Outgoing) -> Receipt:
        async with transport_errors(self.name):
            response = await self._client.post(self._url, data=self.form(outgoing), auth=self._auth)
        if response.status_code in (200, 201):
            body = response.json()
            return Receipt(provider_message_id=body.get("sid"), provider_status_code=str(response.status_code))
        raise self._error(response)

    def _error(self, response: httpx.Response) -> SendTransientError | SendPermanentError:
        code, message = _twilio_error(response)
        status = str(code or response.status_code)
        detail = f"{self.name}: HTTP {response.status_code} code {code}: {message}"
        if response.status_code in RETRYABLE_STATUS or response.status_code >= 500:
            return SendTransientError(
                detail, status_code=status, retry_after=parse_retry_after(response.headers.get("Retry-After"))
            )
        return SendPermanentError(detail, status_code=status, failover=code not in RECIPIENT_ERRORS)

    async def aclose(self) -> None:
        """The shared HTTP client is closed by its owner."""


def _twilio_error(response: httpx.Response) -> tuple[int | None, str]:
    try:
        body = response.json()
    except ValueError:
        return None, short_body(response)
    if not isinstance(body, dict):
        return None, short_body(response)
    code = body.get("code")
    return (code if isinstance(code, int) else None), str(body.get("message", ""))
