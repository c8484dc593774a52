"""SMS through the Twilio Programmable Messaging REST API (and any Twilio-compatible API in the failover slot).

Error classification is shared with voice calls (channels/twilio_api.py).
"""

from __future__ import annotations

import httpx

from alertrouter_notifier.channels.base import Outgoing, Receipt
from alertrouter_notifier.channels.http import transport_errors
from alertrouter_notifier.channels.twilio_api import account_url, created_sid, credentials, twilio_error
from alertrouter_notifier.rendering.sms import render_sms


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
        reply_hint: bool = False,
    ) -> None:
        self.name = name
        self._client = client
        self._url = account_url(base_url, account_sid, "Messages")
        self._auth = credentials(account_sid, api_key_sid, auth_token)
        self._from = from_number
        self._messaging_service = messaging_service_sid
        self._status_callback = status_callback_url
        self._reply_hint = reply_hint

    def form(self, outgoing: Outgoing) -> dict[str, str]:
        body = render_sms(outgoing.page, outgoing.links, reply_hint=self._reply_hint)
        form = {"To": outgoing.page.contact_method.address.strip(), "Body": body}
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
        if response.is_success:
            return Receipt(provider_message_id=created_sid(response), provider_status_code=str(response.status_code))
        raise twilio_error(self.name, response)

    async def aclose(self) -> None:
        """The HTTP client is closed by its owner."""
