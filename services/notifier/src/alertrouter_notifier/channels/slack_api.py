"""The Slack Web API calls the notifier makes with its bot token: ``chat.postMessage`` and ``chat.update``.

Error policy (FORMATS §7): the Web API answers HTTP 200 with ``{"ok": false, "error": ...}``; rate limits (429 +
Retry-After, ``ratelimited``) and Slack-side failures are retried, configuration and auth errors are not.
A posted message is remembered as ``<channel>/<ts>`` (the delivery's provider message id), which is what
``chat.update`` needs to change it in place later.
"""

from __future__ import annotations

from typing import Any

import httpx

from alertrouter_notifier.channels.base import SendPermanentError, SendTransientError, parse_retry_after
from alertrouter_notifier.channels.http import raise_for_http_status, transport_errors

RETRYABLE_API_ERRORS = frozenset(
    {"ratelimited", "rate_limited", "fatal_error", "request_timeout", "internal_error", "service_unavailable"}
)


def message_ref(channel: str, ts: str) -> str:
    return f"{channel}/{ts}"


class SlackApi:
    def __init__(self, client: httpx.AsyncClient, *, api_url: str, bot_token: str) -> None:
        self._client = client
        self._api_url = api_url.rstrip("/")
        self._token = bot_token

    @property
    def configured(self) -> bool:
        return bool(self._token)

    async def post_message(self, channel: str, message: dict[str, Any]) -> str:
        """Posts and returns the message's reference (``channel/ts``; a DM's channel is the D... id Slack chose)."""
        body = await self.call("chat.postMessage", {"channel": channel, **message})
        return message_ref(str(body.get("channel") or channel), str(body.get("ts")))

    async def update(self, ref: str, message: dict[str, Any]) -> None:
        channel, _, ts = ref.partition("/")
        await self.call("chat.update", {"channel": channel, "ts": ts, **message})

    async def auth_test(self) -> str:
        """Slack's own check of the bot token (``auth.test``), posting nothing."""
        body = await self.call("auth.test", {})
        return f"bot token valid for team {body.get('team', '?')} as {body.get('user', '?')}"

    async def call(self, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        if not self._token:
            raise SendPermanentError(f"slack: no bot token configured for {method}", status_code="not_authed")
        headers = {"Authorization": f"Bearer {self._token}"}
        async with transport_errors("slack-api"):
            response = await self._client.post(f"{self._api_url}/{method}", json=payload, headers=headers)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        code = str(response.status_code)
        if response.status_code == 429 or response.status_code >= 500:
            raise SendTransientError(f"slack-api: HTTP {code}", status_code=code, retry_after=retry_after)
        try:
            body = response.json()
        except ValueError:
            raise_for_http_status("slack-api", response)
            raise SendTransientError("slack-api: response is not JSON", status_code=code) from None
        if body.get("ok") is True:
            return dict(body)
        error = str(body.get("error") or "unknown_error")
        if error in RETRYABLE_API_ERRORS:
            raise SendTransientError(f"slack-api: {error}", status_code=error, retry_after=retry_after)
        raise SendPermanentError(f"slack-api: {error}", status_code=error)
