"""Slack: incoming webhooks (the contact address is the hook URL) and ``chat.postMessage`` (the address is a
user, DM or channel id, sent with the bot token).

Error policy (FORMATS §7): incoming webhooks answer errors as plain-text bodies with 4xx/5xx statuses;
``chat.postMessage`` answers HTTP 200 with ``{"ok": false, "error": ...}``. Rate limits (429 + Retry-After,
``ratelimited``) and Slack-side failures are retried; configuration and auth errors are not.
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
from alertrouter_notifier.channels.http import raise_for_http_status, short_body, transport_errors
from alertrouter_notifier.rendering.chat import slack_message

RETRYABLE_API_ERRORS = frozenset(
    {"ratelimited", "rate_limited", "fatal_error", "request_timeout", "internal_error", "service_unavailable"}
)


class SlackProvider:
    name = "slack"

    def __init__(self, client: httpx.AsyncClient, *, api_url: str, bot_token: str) -> None:
        self._client = client
        self._api_url = api_url.rstrip("/")
        self._token = bot_token

    async def send(self, outgoing: Outgoing) -> Receipt:
        address = outgoing.page.contact_method.address.strip()
        message = slack_message(outgoing.page, outgoing.links)
        if address.startswith(("https://", "http://")):
            return await self._incoming_webhook(address, message)
        return await self._post_message(address, message)

    async def _incoming_webhook(self, url: str, message: dict[str, object]) -> Receipt:
        async with transport_errors("slack-webhook"):
            response = await self._client.post(url, json=message)
        raise_for_http_status("slack-webhook", response, short_body(response))
        return Receipt(provider_status_code=str(response.status_code))

    async def _post_message(self, channel: str, message: dict[str, object]) -> Receipt:
        if not self._token:
            raise SendPermanentError("slack: no bot token configured for chat.postMessage", status_code="not_authed")
        headers = {"Authorization": f"Bearer {self._token}"}
        async with transport_errors("slack-api"):
            response = await self._client.post(
                f"{self._api_url}/chat.postMessage", json={"channel": channel, **message}, headers=headers
            )
        if response.status_code == 429 or response.status_code >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise SendTransientError(
                f"slack-api: HTTP {response.status_code}",
                status_code=str(response.status_code),
                retry_after=retry_after,
            )
        try:
            body = response.json()
        except ValueError:
            raise_for_http_status("slack-api", response, short_body(response))
            raise SendTransientError("slack-api: response is not JSON", status_code=str(response.status_code)) from None
        if body.get("ok") is True:
            return Receipt(provider_message_id=str(body.get("ts")), provider_status_code="ok")
        error = str(body.get("error") or "unknown_error")
        if error in RETRYABLE_API_ERRORS:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise SendTransientError(f"slack-api: {error}", status_code=error, retry_after=retry_after)
        raise SendPermanentError(f"slack-api: {error}", status_code=error)

    async def aclose(self) -> None:
        """The shared HTTP client is closed by its owner."""
