"""The threaded HTTP server under every provider stand-in: scripted replies, recorded requests.

Standard library only and independent of any event loop, so tests, the end-to-end suite and the dev stack can
all run these servers (see servers.py for the provider shapes and the CLI).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def load_fixture(relative: str) -> Any:
    return json.loads((FIXTURES / relative).read_text())


@dataclass
class Reply:
    """One scripted HTTP response; ``delay`` seconds of silence first (longer than the client timeout = timeout)."""

    status: int
    body: bytes | str | dict[str, Any] | list[Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        if isinstance(self.body, dict | list):
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
            return json.dumps(self.body).encode(), headers
        if isinstance(self.body, str):
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
            return self.body.encode(), headers
        return self.body or b"", headers

    @classmethod
    def from_fixture(cls, relative: str, delay: float = 0.0) -> Reply:
        """A ``*.http.json`` fixture: {"status", "headers", "body"}."""
        data = load_fixture(relative)
        return cls(int(data["status"]), data.get("body"), dict(data.get("headers") or {}), delay)

    @classmethod
    def twilio_error(cls, code: int, retry_after: str | None = None) -> Reply:
        body = load_fixture(f"twilio/error-{code}.json")
        headers = {"Retry-After": retry_after} if retry_after else {}
        return cls(int(body["status"]), body, headers)

    @classmethod
    def timeout(cls, seconds: float) -> Reply:
        return cls(500, "too late", delay=seconds)


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float
    status: int = 0  # the status this server answered with

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


class ProviderServer:
    """Threaded HTTP server: records requests, answers from the script, else from ``respond``."""

    name = "capture"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, verbose: bool = False) -> None:
        self.requests: list[Received] = []
        self.verbose = verbose
        self._script: deque[Reply] = deque()
        self._lock = threading.Condition()
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    # lifecycle -----------------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ProviderServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name=f"{self.name}-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # scripting and inspection --------------------------------------------------------------------------
    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self.requests.clear()

    def wait_for(
        self, count: int, timeout: float = 10.0, where: Callable[[Received], bool] | None = None
    ) -> list[Received]:
        """Block until ``count`` matching requests arrived (thread-safe; call via asyncio.to_thread in async code)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                matching = [r for r in self.requests if where is None or where(r)]
                if len(matching) >= count:
                    return matching
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{self.name}: expected {count} request(s), got {len(matching)}")
                self._lock.wait(remaining)

    def matching(self, where: Callable[[Received], bool]) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if where(r)]

    # behaviour -----------------------------------------------------------------------------------------
    def respond(self, request: Received) -> Reply:
        return Reply(200, {"ok": True})

    def _next_reply(self, request: Received) -> Reply:
        with self._lock:
            scripted = self._script.popleft() if self._script else None
        return scripted if scripted is not None else self.respond(request)

    def _record(self, request: Received) -> None:
        with self._lock:
            self.requests.append(request)
            self._lock.notify_all()
        if self.verbose:
            self.print_request(request)

    def print_request(self, request: Received) -> None:
        try:
            body: Any = request.json()
        except ValueError:
            body = request.body.decode("utf-8", "replace")
        line = {"server": self.name, "method": request.method, "path": request.path, "body": body}
        print(json.dumps(line), flush=True)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Received(
                    method=self.command,
                    path=parts.path,
                    query=dict(parse_qsl(parts.query)),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                    at=time.time(),
                )
                reply = server._next_reply(request)
                request.status = reply.status
                server._record(request)
                if reply.delay:
                    time.sleep(reply.delay)
                payload, headers = reply.encoded()
                try:
                    self.send_response(reply.status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    return

            do_POST = _handle
            do_GET = _handle
            do_PUT = _handle

        return Handler
