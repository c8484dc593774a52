"""Local HTTP servers that speak the provider API shapes the notifier talks to: Twilio, Slack, Teams, webhooks.

Why: tests point the notifier's real HTTP clients at these, so every
request goes over a real socket and is validated the way the provider would, and replies are the providers'
documented success and error bodies (tests/fixtures/{twilio,slack,teams}).

Each server runs in its own thread (standard library only, independent of any event loop), records every
request, and answers from a FIFO script of replies before falling back to the provider's normal behaviour:

    with TwilioServer(account_sid="AC...", auth_token="secret") as twilio:
        twilio.script(Reply.twilio_error(20429), Reply(500, "oops"))  # then normal 201 replies
        ...
        requests = twilio.wait_for(3)

CLI, to try the notifier by hand (``make dev`` runs its own, ``scripts/capture_server.py``):
    python -m tests.providers.servers capture --port 8099 [--secret S]
    python -m tests.providers.servers all --port 8099    # capture, twilio, slack, teams on 8099..8102
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from tests.providers.base import ProviderServer, Received, Reply, load_fixture
from tests.providers.slack import SlackServer
from tests.providers.twilio import TwilioServer, twilio_signature

__all__ = [
    "CaptureServer",
    "ProviderServer",
    "Received",
    "Reply",
    "SlackServer",
    "TeamsServer",
    "TwilioServer",
    "load_fixture",
    "sign_body",
    "twilio_signature",
    "verify_signature",
]


class CaptureServer(ProviderServer):
    """The generic webhook receiver: checks the notifier's HMAC signature when given the secret."""

    name = "capture"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, secret: str = "", verbose: bool = False) -> None:
        super().__init__(host, port, verbose=verbose)
        self.secret = secret

    def respond(self, request: Received) -> Reply:
        if request.method != "POST":
            return Reply(405, {"error": "POST only"})
        if self.secret and not verify_signature(self.secret, request.header("X-Alertrouter-Signature"), request.body):
            return Reply(401, {"error": "bad signature"})
        try:
            request.json()
        except ValueError:
            return Reply(400, {"error": "body is not JSON"})
        return Reply(200, {"ok": True})

    def pages(self) -> list[dict[str, Any]]:
        """Bodies of the webhook notifications accepted (answered 2xx) so far."""
        with self._lock:
            return [r.json() for r in self.requests if r.method == "POST" and 200 <= r.status < 300]


def sign_body(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(secret: str, header: str, body: bytes, tolerance: float = 300) -> bool:
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    if not fields.get("t", "").isdigit() or abs(time.time() - int(fields["t"])) > tolerance:
        return False
    expected = sign_body(secret, body, int(fields["t"])).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))


class TeamsServer(ProviderServer):
    """A Workflows "When a Teams webhook request is received" trigger (202, empty body) or a legacy connector."""

    name = "teams"
    MAX_BYTES = 28 * 1024

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, legacy: bool = False, verbose: bool = False) -> None:
        super().__init__(host, port, verbose=verbose)
        self.legacy = legacy
        self.cards: list[dict[str, Any]] = []

    def respond(self, request: Received) -> Reply:
        if request.method != "POST":
            return Reply(405, "")
        if len(request.body) > self.MAX_BYTES:
            return Reply(413, "Request entity too large")
        try:
            envelope = request.json()
        except ValueError:
            return Reply(
                400, {"error": {"code": "InvalidRequestContent", "message": "The request content is not valid JSON."}}
            )
        problem = _adaptive_card_problem(envelope)
        if problem:
            return Reply(400, {"error": {"code": "InvalidTemplate", "message": problem}})
        with self._lock:
            self.cards.append(envelope["attachments"][0]["content"])
        if self.legacy:
            return Reply.from_fixture("teams/legacy-connector-ok.http.json")
        return Reply.from_fixture("teams/workflow-accepted.http.json")


def _adaptive_card_problem(envelope: Any) -> str | None:
    if not isinstance(envelope, dict) or envelope.get("type") != "message":
        return "the body must be a message envelope with type 'message'"
    attachments = envelope.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        return "'attachments' must be a non-empty array"
    for item in attachments:
        if item.get("contentType") != "application/vnd.microsoft.card.adaptive":
            return "attachments[].contentType must be application/vnd.microsoft.card.adaptive"
        card = item.get("content") or {}
        if card.get("type") != "AdaptiveCard" or not card.get("version"):
            return "attachments[].content must be an AdaptiveCard with a version"
        for action in card.get("actions") or []:
            if action.get("type") == "Action.Submit":
                return "Action.Submit is not supported through webhooks"
    return None


SERVERS: dict[str, Callable[..., ProviderServer]] = {
    "capture": CaptureServer,
    "twilio": TwilioServer,
    "slack": SlackServer,
    "teams": TeamsServer,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Local provider API servers for alertrouter tests and dev")
    parser.add_argument("kind", choices=[*SERVERS, "all"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--secret", default="", help="capture: verify X-Alertrouter-Signature with this secret")
    args = parser.parse_args(argv)
    kinds = list(SERVERS) if args.kind == "all" else [args.kind]
    servers: list[ProviderServer] = []
    for offset, kind in enumerate(kinds):
        extra = {"secret": args.secret} if kind == "capture" else {}
        server = SERVERS[kind](args.host, args.port + offset, verbose=True, **extra)
        servers.append(server.start())
        print(json.dumps({"server": kind, "listening": f"http://{args.host}:{server.port}"}), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        for server in servers:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
