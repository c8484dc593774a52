"""A real SMTP server (aiosmtpd) for tests: optional STARTTLS and AUTH, scripted replies per stage, parsed mail.

Scripted replies are SMTP reply lines (``"451 4.7.1 Greylisted, please try again later"``) consumed FIFO at the
RCPT or DATA stage; ``"delay:<seconds>"`` in the DATA script stalls the reply past the client's timeout and
then refuses the mail, so a timed-out attempt never counts as delivered.
Replies come from tests/fixtures/smtp/server-replies.json via ``fixture_reply``.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import time
from collections import deque
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, AuthResult, LoginPassword

from tests.helpers import free_port

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "smtp" / "server-replies.json"


def fixture_reply(code: str) -> str:
    """The fixture reply line starting with ``code`` (e.g. "451", "550")."""
    for case in json.loads(FIXTURE.read_text())["cases"]:
        if case["reply"].startswith(code):
            return str(case["reply"])
    raise KeyError(code)


class _Handler:
    def __init__(self, owner: SmtpServer) -> None:
        self.owner = owner

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        if self.owner.helo_only:  # an old server: EHLO unknown, so the client greets with HELO
            return ["502 5.5.2 Error: command not recognized"]
        session.host_name = hostname
        return responses

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> Any:
        return self.owner.quit_reply or MISSING

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        scripted = self.owner._pop(self.owner.rcpt_script)
        if scripted:
            return scripted
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        scripted = self.owner._pop(self.owner.data_script)
        if scripted and scripted.startswith("delay:"):  # stall past the client's timeout, then refuse
            await asyncio.sleep(float(scripted.split(":", 1)[1]))
            return "451 4.4.2 Timeout while waiting for the client"
        if scripted:
            return scripted
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.owner._record(message, list(envelope.rcpt_tos), session)
        return f"250 2.0.0 Ok: queued as Q{len(self.owner.messages):06d}"


class SmtpServer:
    """aiosmtpd on a free loopback port; ``messages`` holds every accepted mail, parsed."""

    def __init__(
        self,
        *,
        tls_context: ssl.SSLContext | None = None,
        username: str | None = None,
        password: str | None = None,
        helo_only: bool = False,
        quit_reply: str | None = None,
    ) -> None:
        self.port = free_port()
        self.helo_only = helo_only
        self.quit_reply = quit_reply  # instead of "221 Bye" (the connection closes all the same)
        self.messages: list[EmailMessage] = []
        self.envelopes: list[dict[str, Any]] = []
        self.rcpt_script: deque[str] = deque()
        self.data_script: deque[str] = deque()
        self._lock = threading.Lock()
        kwargs: dict[str, Any] = {}
        if tls_context is not None:
            kwargs |= {"tls_context": tls_context, "require_starttls": True}
        if username is not None:
            kwargs |= {"authenticator": self._authenticator(username, password or ""), "auth_required": True}
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **kwargs)

    def _authenticator(self, username: str, password: str) -> Any:
        def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            ok = (
                isinstance(data, LoginPassword)
                and data.login.decode() == username
                and data.password.decode() == password
            )
            return AuthResult(success=ok, handled=False)

        return check

    def start(self) -> SmtpServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _pop(self, script: deque[str]) -> str | None:
        with self._lock:
            return script.popleft() if script else None

    def _record(self, message: EmailMessage, rcpt: list[str], session: Any) -> None:
        with self._lock:
            self.messages.append(message)
            self.envelopes.append({"rcpt": rcpt, "tls": session.ssl is not None, "auth": session.authenticated})

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            if time.monotonic() > deadline:
                raise AssertionError(f"smtp: expected {count} message(s), got {len(self.messages)}")
            await asyncio.sleep(0.05)
