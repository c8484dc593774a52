"""The connection pool under the notifier's httpx clients: idle HTTP/1.1 connections per origin, taken in O(1).

Why not httpcore's own pool: on every request and every response it re-examines each pooled connection against
each waiting request (``_assign_requests_to_connections``); with 16 connections that bookkeeping was about a third
of a request's CPU in the notifier (cProfile of a webhook send loop, 16 in flight). Here a request waits for a
free slot (at most ``max_connections`` in flight), then takes the most recently used idle connection to its
origin or opens one; a connection goes back when its response is closed. Nothing else needs deciding: the
notifier speaks HTTP/1.1 only, one request per connection at a time.

The connections are httpcore's own (``AsyncHTTP11Connection``): parsing, keep-alive expiry and the detection of a
receiver that closed an idle connection are httpcore's, and every error is httpcore's type, which httpx maps
exactly as with its default pool (a slot not free within the pool timeout is ``PoolTimeout``).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from typing import TypeAlias

import httpcore

from alertrouter_notifier.channels.asyncio_network import AsyncioBackend

OriginKey: TypeAlias = tuple[bytes, bytes, int]  # scheme, host, port (httpcore's Origin is not hashable)


def _key(request: httpcore.Request) -> OriginKey:
    url = request.url
    return url.scheme, url.host, url.port or (443 if url.scheme == b"https" else 80)


def _refuse_other_schemes(request: httpcore.Request) -> None:
    """As httpcore's own pool does, so that httpx reports ``UnsupportedProtocol`` (a permanent failure): a URL
    without http(s):// raised a KeyError looking up its default port, which counted as transient, retried until the
    deadline, and one with another scheme and a port was sent plain HTTP."""
    scheme = request.url.scheme
    if not scheme:
        raise httpcore.UnsupportedProtocol("Request URL is missing an 'http://' or 'https://' protocol.")
    if scheme not in (b"http", b"https"):
        raise httpcore.UnsupportedProtocol(f"Request URL has an unsupported protocol '{scheme.decode()}://'.")


class _Connection(httpcore.AsyncHTTP11Connection):
    """httpcore's HTTP/1.1 connection with a plain asyncio lock for its state.

    httpcore's own lock is anyio's under asyncio, which enters a cancel scope on every acquire, twice per request
    (about 5 % of the notifier's CPU at 500 pages/s). The lock is never contended here: the pool hands a
    connection to one request at a time.
    """

    def __init__(self, origin: httpcore.Origin, stream: httpcore.AsyncNetworkStream, keepalive_expiry: float | None):
        super().__init__(origin, stream, keepalive_expiry=keepalive_expiry)
        self._state_lock = asyncio.Lock()  # type: ignore[assignment]  # used only as ``async with``


class Http11Pool:
    def __init__(
        self,
        ssl_context: ssl.SSLContext,
        *,
        max_connections: int,
        max_keepalive_connections: int,
        keepalive_expiry: float | None,
    ) -> None:
        ssl_context.set_alpn_protocols(["http/1.1"])
        self._ssl_context = ssl_context
        self._backend = AsyncioBackend()
        self._keepalive_expiry = keepalive_expiry
        self._max_idle = max_keepalive_connections
        self._slots = asyncio.BoundedSemaphore(max_connections)  # a slot given back twice is an error, not a slot
        self._idle: dict[OriginKey, list[httpcore.AsyncHTTP11Connection]] = {}
        self._idle_count = 0
        self._open: set[httpcore.AsyncHTTP11Connection] = set()

    @property
    def connections(self) -> list[httpcore.AsyncHTTP11Connection]:
        return list(self._open)

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        _refuse_other_schemes(request)
        await self._take_slot(request)
        try:
            connection = await self._connection_for(request)
            try:
                response = await connection.handle_async_request(request)
            except BaseException:
                await self._close(connection)
                raise
        except BaseException:
            self._slots.release()
            raise
        response.stream = _GivenBackOnClose(response.stream, self, _key(request), connection)
        return response

    async def _take_slot(self, request: httpcore.Request) -> None:
        if self._slots.locked():
            timeout = request.extensions.get("timeout", {}).get("pool")
            try:
                async with asyncio.timeout(timeout):
                    await self._slots.acquire()
            except TimeoutError as exc:
                raise httpcore.PoolTimeout(f"no connection free within {timeout} s") from exc
        else:
            await self._slots.acquire()  # free: returns at once

    async def _connection_for(self, request: httpcore.Request) -> httpcore.AsyncHTTP11Connection:
        idle = self._idle.get(_key(request))
        while idle:
            connection = idle.pop()
            self._idle_count -= 1
            if connection.has_expired():  # too old, or the receiver closed it (known from the stream's state)
                await self._close(connection)
                continue
            return connection
        connection = _Connection(request.url.origin, await self._connect(request), self._keepalive_expiry)
        self._open.add(connection)
        return connection

    async def _connect(self, request: httpcore.Request) -> httpcore.AsyncNetworkStream:
        timeout = request.extensions.get("timeout", {}).get("connect")
        origin = request.url.origin
        host = origin.host.decode("ascii")
        stream = await self._backend.connect_tcp(host, origin.port, timeout=timeout)
        if origin.scheme == b"https":
            server_hostname = request.extensions.get("sni_hostname") or host
            stream = await stream.start_tls(self._ssl_context, server_hostname=server_hostname, timeout=timeout)
        return stream

    async def give_back(self, origin: OriginKey, connection: httpcore.AsyncHTTP11Connection) -> None:
        """Called once per response, when it is closed: the slot is free again, the connection kept if it can be."""
        try:
            if not connection.is_idle() or connection.has_expired() or self._max_idle <= 0:
                await self._close(connection)
                return
            if self._idle_count >= self._max_idle:
                await self._close(self._oldest_idle())
            self._idle.setdefault(origin, []).append(connection)
            self._idle_count += 1
        finally:
            self._slots.release()

    def _oldest_idle(self) -> httpcore.AsyncHTTP11Connection:
        """The first-used origin's least recently used connection (rare: only with more origins than the limit)."""
        for origin, connections in self._idle.items():
            if connections:
                self._idle_count -= 1
                oldest = connections.pop(0)
                if not connections:
                    del self._idle[origin]
                return oldest
        raise AssertionError("no idle connection although the count says so")

    async def _close(self, connection: httpcore.AsyncHTTP11Connection) -> None:
        self._open.discard(connection)
        await connection.aclose()

    async def aclose(self) -> None:
        self._idle.clear()
        self._idle_count = 0
        for connection in list(self._open):
            await self._close(connection)

    async def __aenter__(self) -> Http11Pool:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class _GivenBackOnClose:
    """A response body that gives its connection back to the pool when closed (httpx closes every response)."""

    def __init__(
        self, stream: object, pool: Http11Pool, origin: OriginKey, connection: httpcore.AsyncHTTP11Connection
    ) -> None:
        self._stream = stream
        self._pool: Http11Pool | None = pool
        self._origin = origin
        self._connection = connection

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._stream.__aiter__()  # type: ignore[attr-defined, no-any-return]

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()  # type: ignore[attr-defined]
        finally:
            pool, self._pool = self._pool, None
            if pool is not None:  # once, however often the response is closed
                await pool.give_back(self._origin, self._connection)
