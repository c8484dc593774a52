"""A local Slack: incoming webhooks, the Web API's ``chat.postMessage`` and ``chat.update``, interaction
``response_url``s, and the interaction requests Slack makes when someone clicks a button.

Messages are validated against the limits Slack enforces (FORMATS §7) and answered with Slack's bodies
(tests/fixtures/slack); a Web API method can be rate limited (``rate_limit``: HTTP 429 with Retry-After). A click
is played the way Slack does it: a ``block_actions`` payload built from the message as posted (the button's
action_id and value), form-encoded, signed with the app's signing secret (``v0``) and posted over a real socket to
the app's Request URL. Click methods block (urllib): call them via asyncio.to_thread.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from tests.providers.base import ProviderServer, Received, Reply, load_fixture

SLACK_CHANNEL_ID = re.compile(r"^[CDGUW][A-Z0-9]{6,}$")


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass
class ClickReply:
    status: int
    body: str
    sent: tuple[bytes, dict[str, str]] = (b"", {})  # the request as it was sent (body, headers): to replay it


class SlackServer(ProviderServer):
    """Incoming webhooks (``POST /services/T/B/X``), ``POST /api/chat.postMessage``, ``POST /api/chat.update``,
    ``POST /api/auth.test`` and ``POST /actions/...`` (response URLs)."""

    name = "slack"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        bot_token: str = "xoxb-test-token",
        signing_secret: str = "slack-signing-secret",
        revoked_hooks: set[str] | None = None,
        missing_channels: set[str] | None = None,
        verbose: bool = False,
    ) -> None:
        super().__init__(host, port, verbose=verbose)
        self.bot_token = bot_token
        self.signing_secret = signing_secret
        self.revoked_hooks = revoked_hooks or set()
        self.missing_channels = missing_channels or set()
        self.messages: list[dict[str, Any]] = []
        self.posted: dict[tuple[str, str], dict[str, Any]] = {}  # (channel, ts) -> the message as it is now
        self.updates: list[dict[str, Any]] = []
        self.responses: list[dict[str, Any]] = []
        self._limited: dict[str, tuple[int, str]] = {}  # method -> (calls still to refuse, Retry-After)
        self.rate_limited: list[Received] = []  # the calls answered 429

    def rate_limit(self, method: str, calls: int, retry_after: str = "1") -> None:
        """The next ``calls`` calls of ``method`` (e.g. ``chat.update``) are answered as Slack answers a method over
        its rate limit: HTTP 429, ``Retry-After`` seconds, ``{"ok": false, "error": "ratelimited"}``."""
        with self._lock:
            self._limited[method] = (calls, retry_after)

    def _over_limit(self, method: str, request: Received) -> Reply | None:
        with self._lock:
            left, retry_after = self._limited.get(method, (0, ""))
            if left <= 0:
                return None
            self._limited[method] = (left - 1, retry_after)
            self.rate_limited.append(request)
        limited = Reply.from_fixture("slack/chat-postMessage-ratelimited.http.json")
        limited.headers["Retry-After"] = retry_after
        return limited

    # Web API and webhooks ------------------------------------------------------------------------------
    def respond(self, request: Received) -> Reply:
        limited = (
            self._over_limit(request.path.removeprefix("/api/"), request) if request.path.startswith("/api/") else None
        )
        if limited is not None:
            return limited
        if request.method == "POST" and request.path.startswith("/services/"):
            return self._incoming_webhook(request)
        if request.method == "POST" and request.path == "/api/chat.postMessage":
            return self._post_message(request)
        if request.method == "POST" and request.path == "/api/auth.test":
            return self._auth_test(request)
        if request.method == "POST" and request.path == "/api/chat.update":
            return self._update(request)
        if request.method == "POST" and request.path.startswith("/actions/"):
            with self._lock:
                self.responses.append(request.json())
            return Reply(200, "ok")
        return Reply(404, "no_service", {"Content-Type": "text/html"})

    def _incoming_webhook(self, request: Received) -> Reply:
        if request.path in self.revoked_hooks:
            return Reply.from_fixture("slack/webhook-response-no_service.http.json")
        try:
            payload = request.json()
        except ValueError:
            return Reply.from_fixture("slack/webhook-response-invalid_payload.http.json")
        problem = block_kit_problem(payload)
        if problem:
            return Reply(400, problem, {"Content-Type": "text/html"})
        with self._lock:
            self.messages.append({"via": "webhook", "path": request.path, **payload})
        return Reply.from_fixture("slack/webhook-response-ok.http.json")

    def _api_payload(self, request: Received) -> dict[str, Any] | Reply:
        if request.header("Authorization") != f"Bearer {self.bot_token}":
            return Reply(200, {"ok": False, "error": "invalid_auth"})
        try:
            payload: dict[str, Any] = request.json()
        except ValueError:
            return Reply(200, {"ok": False, "error": "invalid_json"})
        problem = block_kit_problem(payload)
        return Reply(200, {"ok": False, "error": problem}) if problem else payload

    def _auth_test(self, request: Received) -> Reply:
        """The token comes as a bearer header or a ``token`` form field; no scope is needed."""
        token = request.header("Authorization").removeprefix("Bearer ")
        if not token and request.header("Content-Type").startswith("application/x-www-form-urlencoded"):
            token = request.form().get("token", "")
        if not token:
            return Reply(200, {"ok": False, "error": "not_authed"})
        if token != self.bot_token:
            return Reply(200, load_fixture("slack/auth-test-error-invalid_auth.json"))
        return Reply(200, load_fixture("slack/auth-test-ok.json"))

    def _post_message(self, request: Received) -> Reply:
        payload = self._api_payload(request)
        if isinstance(payload, Reply):
            return payload
        channel = str(payload.get("channel", ""))
        if not SLACK_CHANNEL_ID.match(channel) or channel in self.missing_channels:
            return Reply(200, load_fixture("slack/chat-postMessage-error-channel_not_found.json"))
        if channel.startswith(("U", "W")):  # a DM: Slack answers with the conversation's id
            channel = "D" + channel[1:]
        ts = f"{time.time():.6f}"
        body = load_fixture("slack/chat-postMessage-ok.json")
        body.update(channel=channel, ts=ts)
        body["message"].update(text=payload.get("text", ""), ts=ts, blocks=payload.get("blocks", []))
        with self._lock:
            self.messages.append({"via": "api", **payload, "posted_channel": channel, "ts": ts})
            self.posted[(channel, ts)] = dict(payload)
        return Reply(200, body)

    def _update(self, request: Received) -> Reply:
        payload = self._api_payload(request)
        if isinstance(payload, Reply):
            return payload
        key = (str(payload.get("channel", "")), str(payload.get("ts", "")))
        with self._lock:
            if key not in self.posted:
                return Reply(200, {"ok": False, "error": "message_not_found"})
            self.posted[key] = {**self.posted[key], **payload}
            self.updates.append(payload)
        return Reply(200, {"ok": True, "channel": key[0], "ts": key[1], "text": payload.get("text", "")})

    def delete(self, channel: str, ts: str) -> None:
        """Someone deleted the message in Slack: ``chat.update`` of it answers ``message_not_found`` from now on."""
        with self._lock:
            del self.posted[(channel, ts)]

    # Interactions Slack sends --------------------------------------------------------------------------
    def click(
        self,
        url: str,
        channel: str,
        ts: str,
        action_id: str,
        user_id: str,
        *,
        age_seconds: float = 0,
        secret: str | None = None,
    ) -> ClickReply:
        """``user_id`` clicks the button ``action_id`` of the message (channel, ts) as it is now."""
        with self._lock:
            message = self.posted[(channel, ts)]
        buttons = [e for b in message.get("blocks", []) if b["type"] == "actions" for e in b["elements"]]
        button = next((b for b in buttons if b.get("action_id") == action_id), None)
        if button is None:
            raise AssertionError(f"the message has no button {action_id!r}: {[b.get('action_id') for b in buttons]}")
        payload = load_fixture("slack/block-actions-payload.json")
        payload.pop("_comment")
        payload["user"] = {**payload["user"], "id": user_id}
        payload["container"] = {**payload["container"], "channel_id": channel, "message_ts": ts}
        payload["channel"] = {**payload["channel"], "id": channel}
        payload["message"] = {
            **payload["message"],
            "ts": ts,
            "text": message.get("text", ""),
            "blocks": message["blocks"],
        }
        payload["response_url"] = f"{self.url}/actions/T0123ABCDEF/{uuid.uuid4().int % 10**13}/x"
        payload["actions"] = [
            {**payload["actions"][0], **{k: button[k] for k in ("action_id", "value", "text") if k in button}}
        ]
        body = urlencode({"payload": json.dumps(payload)}).encode()
        timestamp = str(int(time.time() - age_seconds))
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": slack_signature(secret or self.signing_secret, timestamp, body),
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        return self.post_click(url, body, headers)

    def post_click(self, url: str, body: bytes, headers: dict[str, str]) -> ClickReply:
        """Post an interaction request as it is (a replay of ``ClickReply.sent``)."""
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return ClickReply(response.status, response.read().decode(), (body, headers))
        except urllib.error.HTTPError as exc:
            return ClickReply(exc.code, exc.read().decode(), (body, headers))


def block_kit_problem(payload: dict[str, Any]) -> str | None:
    """The limits Slack enforces (FORMATS §7): the error string Slack would answer with, or None."""
    blocks = payload.get("blocks") or []
    if not payload.get("text") and not blocks:
        return "no_text"
    if len(blocks) > 50:
        return "invalid_blocks"
    for block in blocks:
        text = (block.get("text") or {}).get("text", "")
        if block.get("type") == "header" and len(text) > 150:
            return "invalid_blocks"
        if block.get("type") == "section":
            fields = block.get("fields") or []
            if len(text) > 3000 or len(fields) > 10 or any(len(f.get("text", "")) > 2000 for f in fields):
                return "invalid_blocks"
        if block.get("type") == "actions":
            for element in block.get("elements") or []:
                if element.get("type") == "button" and not (element.get("url") or element.get("action_id")):
                    return "invalid_blocks"
                if len(str(element.get("value", ""))) > 2000:
                    return "invalid_blocks"
    return None
