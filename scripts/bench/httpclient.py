"""A minimal HTTP/1.1 keep-alive client on asyncio + httptools, with a bounded connection pool.

Why not httpx or aiohttp: on a 2-core machine every microsecond the load generator spends is taken from the
system under test. httpx costs 1.6-2.8 ms of CPU per request here (DESIGN.md); this client writes prepared
bytes and parses the answer with llhttp (the parser uvicorn uses), so it costs a few tens of microseconds.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from dataclasses import dataclass
from typing import cast

import httptools


@dataclass(frozen=True)
class Response:
    status: int
    retry_after: bytes | None
    body: bytes


class ConnectionClosed(ConnectionError):
    """The server closed the connection before answering."""


class _ClientConnection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[Response] | None = None
        self.closed = False
        self._header_name = b""
        self._retry_after: bytes | None = None
        self._body: list[bytes] = []

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ConnectionClosed(f"unparseable response: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(ConnectionClosed(str(exc) if exc else "connection closed by the server"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"retry-after":
            self._retry_after = value

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        response = Response(self.parser.get_status_code(), self._retry_after, b"".join(self._body))
        self._retry_after = None
        self._body = []
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(response)
        if not self.parser.should_keep_alive():
            self.close()

    # use
    def send(self, data: bytes) -> asyncio.Future[Response]:
        if self.closed or self.transport is None:
            raise ConnectionClosed("connection is closed")
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self.waiter

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, exc: Exception) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)


class Pool:
    """Up to ``size`` connections to one host; ``request`` waits for a free one, ``try_request`` does not."""

    def __init__(self, host: str, port: int, size: int, timeout: float = 30.0) -> None:
        self.host = host
        self.port = port
        self.size = size
        self.timeout = timeout
        self._idle: list[_ClientConnection] = []
        self._open = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._host_header = f"Host: {host}:{port}\r\n".encode()

    def prepare(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
        """The full request bytes; prepared once per request so sending is a single write."""
        lines = [f"{method} {path} HTTP/1.1\r\n".encode(), self._host_header]
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}\r\n".encode())
        if body or method in ("POST", "PUT"):
            lines.append(b"Content-Type: application/json\r\n")
            lines.append(f"Content-Length: {len(body)}\r\n".encode())
        lines.append(b"\r\n")
        lines.append(body)
        return b"".join(lines)

    @property
    def busy(self) -> bool:
        return not self._idle and self._open >= self.size

    async def request(self, data: bytes) -> Response:
        connection = await self._acquire()
        return await self._exchange(connection, data)

    async def try_request(self, data: bytes) -> Response | None:
        """None at once when every connection is busy (open-loop overload: the sender gives up, not queues)."""
        if self.busy:
            return None
        return await self.request(data)

    async def close(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle.clear()

    async def _exchange(self, connection: _ClientConnection, data: bytes) -> Response:
        try:
            async with asyncio.timeout(self.timeout):
                response = await connection.send(data)
        except BaseException:
            connection.close()
            self._release(None)
            raise
        self._release(None if connection.closed else connection)
        return response

    async def _acquire(self) -> _ClientConnection:
        while True:
            while self._idle:
                connection = self._idle.pop()
                if not connection.closed:
                    return connection
                self._open -= 1
            if self._open < self.size:
                self._open += 1
                try:
                    return await self._connect()
                except BaseException:
                    self._open -= 1
                    self._wake_one()
                    raise
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
                raise

    async def _connect(self) -> _ClientConnection:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(_ClientConnection, self.host, self.port)
        return protocol

    def _release(self, connection: _ClientConnection | None) -> None:
        if connection is None:
            self._open -= 1
        else:
            self._idle.append(connection)
        self._wake_one()

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


async def get_json_bytes(host: str, port: int, path: str, timeout: float = 10.0) -> Response:
    """One GET on a fresh connection (control calls: metrics, receiver records, readiness)."""
    pool = Pool(host, port, 1, timeout)
    try:
        return await pool.request(pool.prepare("GET", path))
    finally:
        await pool.close()
