"""Voice calls through the Twilio Programmable Voice REST API (``POST .../Calls.json`` with inline TwiML).

A created call is ``sent``, not reached: the call status callback (api/twilio_callbacks.py) later records
``delivered`` when it was answered, or ``undelivered``/``failed`` for busy, no-answer and failed calls, which count
as not reached. Key presses arrive on the Gather action (api/twilio_voice.py). Errors are classified as for SMS.

Both callback URLs a call carries name its delivery (``?delivery=<id>``, signed by Twilio with the rest of the
URL): when Twilio created a call but answered after our timeout, the call is placed again and only the second
CallSid is recorded, yet a key pressed on the first call still acts on the page it was for.
"""

from __future__ import annotations

import httpx

from alertrouter_notifier.channels.base import Outgoing, Receipt
from alertrouter_notifier.channels.http import transport_errors
from alertrouter_notifier.channels.twilio_api import account_url, created_sid, credentials, twilio_error
from alertrouter_notifier.links import for_delivery
from alertrouter_notifier.rendering.voice import call_script


class TwilioVoiceProvider:
    name = "twilio-voice"

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base_url: str,
        account_sid: str,
        auth_token: str,
        api_key_sid: str = "",
        from_number: str,
        gather_url: str,
        status_callback_url: str,
        ring_seconds: int = 30,
        gather_seconds: int = 8,
        machine_detection: bool = False,
    ) -> None:
        self._client = client
        self._url = account_url(base_url, account_sid, "Calls")
        self._auth = credentials(account_sid, api_key_sid, auth_token)
        self._from = from_number
        self._gather_url = gather_url
        self._status_callback = status_callback_url
        self._ring_seconds = ring_seconds
        self._gather_seconds = gather_seconds
        self._machine_detection = machine_detection

    def form(self, outgoing: Outgoing) -> dict[str, str]:
        form = {
            "To": outgoing.page.contact_method.address.strip(),
            "From": self._from,
            "Twiml": call_script(
                outgoing.page, for_delivery(self._gather_url, outgoing.delivery_id), self._gather_seconds
            ),
            "Timeout": str(self._ring_seconds),
            "StatusCallback": for_delivery(self._status_callback, outgoing.delivery_id),
            "StatusCallbackMethod": "POST",
        }
        if self._machine_detection:  # the call status then says AnsweredBy: human, machine_*, fax or unknown
            form["MachineDetection"] = "Enable"
        return form

    async def send(self, outgoing: Outgoing) -> Receipt:
        async with transport_errors(self.name):
            response = await self._client.post(self._url, data=self.form(outgoing), auth=self._auth)
        if response.is_success:
            return Receipt(provider_message_id=created_sid(response), provider_status_code="queued")
        raise twilio_error(self.name, response)

    async def aclose(self) -> None:
        """The HTTP client is closed by its owner."""
