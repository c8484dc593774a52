"""The notifier's HTTP clients on the asyncio-native network backend, against real sockets.

The providers' tests already send every channel through these clients; here are the connection-level cases a
page depends on and those tests do not reach: kept-alive reuse, a receiver that closed an idle connection, a
receiver that never answers, refused and reset connections, TLS (trusted and not), bodies larger than the
flow-control marks, and the mapping of each failure to a retry or not.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest
import trustme

from alertrouter_notifier.channels.asyncio_network import HIGH_WATER
from alertrouter_notifier.channels.base import Outgoing, SendPermanentError, SendTransientError
from alertrouter_notifier.channels.http import AsyncioTransport, make_http_client
from alertrouter_notifier.channels.webhook import WebhookProvider
from alertrouter_shared.events import ContactMethodType
from tests.helpers import eventually
from tests.notifier.conftest import PageFactory

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Server:
    """A raw HTTP/1.1 server: counts connections and lets each test decide how a connection behaves."""

    handler: Handler
    ssl_context: ssl.SSLContext | None = None
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    url: str = ""

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[Server]]]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler, ssl_context: ssl.SSLContext | None = None) -> Server:
        server = Server(handler, ssl_context)
        listening = await asyncio.start_server(server.serve, "127.0.0.1", 0, ssl=ssl_context)
        servers.append(listening)
        port = listening.sockets[0].getsockname()[1]
        server.url = f"{'https' if ssl_context else 'http'}://localhost:{port}"
        return server

    yield start
    for listening in servers:
        listening.close()
        await listening.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
        0,
    )
    return head + await reader.readexactly(length)


def response(body: bytes = b'{"ok":true}', *, close: bool = False) -> bytes:
    connection = b"Connection: close\r\n" if close else b""
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), connection, body)


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Reads the request and never answers."""
    await read_request(reader)
    await asyncio.sleep(30)


def keep_alive(body: bytes = b'{"ok":true}', *, server: list[Server]) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            server[0].requests.append(await read_request(reader))
            writer.write(response(body))
            await writer.drain()

    return handle


async def test_requests_reuse_one_kept_alive_connection(serve: Callable[..., Awaitable[Server]]) -> None:
    holder: list[Server] = []
    server = await serve(keep_alive(server=holder))
    holder.append(server)
    async with make_http_client(5.0) as client:
        for _ in range(5):
            assert (await client.post(f"{server.url}/hook", content=b"{}")).status_code == 200
    assert len(server.requests) == 5
    assert server.connections == 1


async def test_a_connection_the_receiver_closed_while_idle_is_replaced_not_failed(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    """The pool must see the close from the connection's state before reusing it (no failed send, no retry)."""
    closed = asyncio.Event()

    async def answer_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(response())  # no "Connection: close": the client keeps the connection
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        closed.set()

    server = await serve(answer_then_close)
    transport = AsyncioTransport(httpx.Limits(keepalive_expiry=60))  # not expired by age within the test
    async with httpx.AsyncClient(transport=transport) as client:
        assert (await client.get(server.url)).status_code == 200
        await closed.wait()

        async def noticed() -> bool | None:  # dropped already, or known to be closed
            return all(connection.has_expired() for connection in transport.pool.connections) or None

        await eventually(noticed, timeout=5.0)
        assert (await client.get(server.url)).status_code == 200
    assert server.connections == 2


async def test_a_receiver_that_never_answers_is_a_timeout_to_retry(
    serve: Callable[..., Awaitable[Server]], make_page: PageFactory
) -> None:
    server = await serve(silent)
    page = make_page(ContactMethodType.WEBHOOK, f"{server.url}/hook")
    async with make_http_client(0.3) as client:
        with pytest.raises(SendTransientError) as raised:
            await WebhookProvider(client, "secret").send(Outgoing("d1", 1, page))
    assert raised.value.status_code == "timeout"


async def test_refused_and_reset_connections_are_retried(
    serve: Callable[..., Awaitable[Server]], make_page: PageFactory
) -> None:
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.transport.abort()  # RST, no answer

    server = await serve(reset)
    async with make_http_client(5.0) as client:
        provider = WebhookProvider(client, "secret")
        with pytest.raises(SendTransientError) as raised:
            await provider.send(Outgoing("d1", 1, make_page(ContactMethodType.WEBHOOK, f"{server.url}/hook")))
        assert raised.value.status_code == "connect"  # a transport error: the request may not have arrived

        listening = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = listening.sockets[0].getsockname()[1]
        listening.close()
        await listening.wait_closed()
        with pytest.raises(SendTransientError) as refused:
            await provider.send(Outgoing("d2", 1, make_page(ContactMethodType.WEBHOOK, f"http://127.0.0.1:{port}/")))
        assert refused.value.status_code == "connect"


async def test_bodies_larger_than_the_flow_control_marks_arrive_whole(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    big = bytes(range(256)) * (4 * HIGH_WATER // 256)  # 1 MiB each way: reading pauses and resumes
    received: list[bytes] = []

    async def echo_size(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await read_request(reader)
        received.append(request.split(b"\r\n\r\n", 1)[1])
        writer.write(response(big))
        await writer.drain()

    server = await serve(echo_size)
    async with make_http_client(10.0) as client:
        answer = await client.post(server.url, content=big)
    assert answer.content == big
    assert received == [big]


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


def _server_context(authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(context)
    return context


async def test_tls_to_a_trusted_receiver(serve: Callable[..., Awaitable[Server]], authority: trustme.CA) -> None:
    holder: list[Server] = []
    server = await serve(keep_alive(b"secure", server=holder), _server_context(authority))
    holder.append(server)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)
    async with httpx.AsyncClient(transport=AsyncioTransport(ssl_context=client_context)) as client:
        first = await client.post(f"{server.url}/hook", content=b"{}")
        second = await client.post(f"{server.url}/hook", content=b"{}")
    assert (first.content, second.content) == (b"secure", b"secure")
    assert server.connections == 1


async def test_tls_to_an_untrusted_receiver_is_refused(
    serve: Callable[..., Awaitable[Server]], authority: trustme.CA
) -> None:
    holder: list[Server] = []
    server = await serve(keep_alive(server=holder), _server_context(authority))
    holder.append(server)
    async with make_http_client(5.0) as client:  # the system's trust store does not know the test CA
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.get(server.url)
    assert server.requests == []


async def test_an_environment_proxy_keeps_httpx_default_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    """Operators who route egress through HTTPS_PROXY get httpx's documented proxy handling."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    async with make_http_client(5.0) as client:
        assert not isinstance(client._transport, AsyncioTransport)
        assert any(pattern.scheme == "https" for pattern in client._mounts)
    monkeypatch.delenv("HTTPS_PROXY")
    async with make_http_client(5.0) as client:
        assert isinstance(client._transport, AsyncioTransport)


async def test_sends_beyond_the_pool_wait_their_turn_and_every_slot_comes_back(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    holder: list[Server] = []
    server = await serve(keep_alive(server=holder))
    holder.append(server)
    transport = AsyncioTransport(httpx.Limits(max_connections=2, max_keepalive_connections=2))
    async with httpx.AsyncClient(transport=transport) as client:
        answers = await asyncio.gather(*(client.post(f"{server.url}/hook", content=b"{}") for _ in range(20)))
        assert [a.status_code for a in answers] == [200] * 20
        assert server.connections == 2
        streamed = await client.send(client.build_request("GET", server.url), stream=True)
        await streamed.aclose()
        await streamed.aclose()  # a second close gives nothing back twice
        # both slots are free again (a leaked one would fail this with a PoolTimeout); a slot given back twice
        # would have raised on the second close (the pool's semaphore is bounded)
        both = await asyncio.gather(*(client.get(server.url) for _ in range(2)))
        assert [a.status_code for a in both] == [200, 200]


async def test_a_send_waiting_longer_than_the_pool_timeout_is_a_timeout_to_retry(
    serve: Callable[..., Awaitable[Server]], make_page: PageFactory
) -> None:
    server = await serve(silent)
    transport = AsyncioTransport(httpx.Limits(max_connections=1))
    async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5.0, pool=0.2)) as client:
        hanging = asyncio.create_task(client.post(f"{server.url}/first", content=b"{}"))

        async def holding() -> bool:  # the first send has the only connection
            return server.connections == 1

        await eventually(holding, timeout=5.0)
        page = make_page(ContactMethodType.WEBHOOK, f"{server.url}/second")
        with pytest.raises(SendTransientError) as raised:
            await WebhookProvider(client, "secret").send(Outgoing("d2", 1, page))
        assert raised.value.status_code == "timeout"
        hanging.cancel()


async def test_a_failed_send_gives_its_slot_back(serve: Callable[..., Awaitable[Server]]) -> None:
    calls = 0

    async def reset_first(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal calls
        await read_request(reader)
        calls += 1
        if calls == 1:
            writer.transport.abort()
            return
        writer.write(response(close=True))
        await writer.drain()

    server = await serve(reset_first)
    transport = AsyncioTransport(httpx.Limits(max_connections=1))
    async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5.0, pool=0.5)) as client:
        with pytest.raises(httpx.TransportError):
            await client.get(server.url)
        assert (await client.get(server.url)).status_code == 200


async def _kept_alive_server(serve: Callable[..., Awaitable[Server]]) -> Server:
    holder: list[Server] = []
    server = await serve(keep_alive(server=holder))
    holder.append(server)
    return server


async def test_each_receiver_keeps_its_own_connection(serve: Callable[..., Awaitable[Server]]) -> None:
    first, second = await _kept_alive_server(serve), await _kept_alive_server(serve)
    async with make_http_client(5.0) as client:
        for _ in range(3):
            for server in (first, second):
                assert (await client.post(f"{server.url}/hook", content=b"{}")).status_code == 200
    assert (first.connections, len(first.requests)) == (1, 3)
    assert (second.connections, len(second.requests)) == (1, 3)


async def test_a_response_closed_before_its_body_was_read_does_not_leave_its_connection_for_reuse(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    server = await _kept_alive_server(serve)
    transport = AsyncioTransport(httpx.Limits(max_connections=1))
    async with httpx.AsyncClient(transport=transport) as client:
        streamed = await client.send(client.build_request("POST", server.url, content=b"{}"), stream=True)
        await streamed.aclose()  # unread body: the connection's state is unknown, so it is closed, not kept
        for _ in range(2):  # the only slot came back each time (else: a PoolTimeout)
            assert (await client.post(server.url, content=b"{}")).status_code == 200
    assert server.connections == 2


async def test_idle_connections_beyond_the_keepalive_limit_are_closed_oldest_first(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    servers = [await _kept_alive_server(serve) for _ in range(3)]
    transport = AsyncioTransport(httpx.Limits(max_connections=4, max_keepalive_connections=2))
    async with httpx.AsyncClient(transport=transport) as client:
        for server in servers:
            assert (await client.post(server.url, content=b"{}")).status_code == 200
        assert len(transport.pool.connections) == 2  # the first receiver's connection was closed for the third
        for server in servers[1:]:  # the two kept are reused
            assert (await client.post(server.url, content=b"{}")).status_code == 200
    assert [server.connections for server in servers] == [1, 1, 1]


async def test_a_connection_idle_past_its_keepalive_expiry_is_replaced(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    server = await _kept_alive_server(serve)
    transport = AsyncioTransport(httpx.Limits(keepalive_expiry=0.2))
    async with httpx.AsyncClient(transport=transport) as client:
        assert (await client.post(server.url, content=b"{}")).status_code == 200

        async def expired() -> bool:
            return all(connection.has_expired() for connection in transport.pool.connections)

        await eventually(expired, timeout=5.0, interval=0.05, what="the idle connection to expire")
        assert (await client.post(server.url, content=b"{}")).status_code == 200
        assert len(transport.pool.connections) == 1  # the expired one was closed, not left open beside the new
    assert server.connections == 2


async def test_cookies_a_receiver_sets_are_never_sent_back(serve: Callable[..., Awaitable[Server]]) -> None:
    """Providers authenticate every request; a cookie from one answer must not ride on the next page."""
    requests: list[bytes] = []

    async def set_cookie(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            requests.append(await read_request(reader))
            writer.write(b"HTTP/1.1 200 OK\r\nSet-Cookie: session=abc; Path=/\r\nContent-Length: 2\r\n\r\n{}")
            await writer.drain()

    server = await serve(set_cookie)
    async with make_http_client(5.0) as client:
        for _ in range(2):
            assert (await client.post(f"{server.url}/hook", content=b"{}")).status_code == 200
        assert not client.cookies
    assert len(requests) == 2
    assert b"cookie:" not in requests[1].lower()


async def test_an_unparseable_destination_is_a_permanent_failure_not_a_crash(make_page: PageFactory) -> None:
    page = make_page(ContactMethodType.WEBHOOK, "http://[::1/hook")  # the port is unparseable
    async with make_http_client(5.0) as client:
        with pytest.raises(SendPermanentError) as raised:
            await WebhookProvider(client, "secret").send(Outgoing("d1", 1, page))
    assert raised.value.status_code == "invalid_url"


async def test_without_keepalive_every_request_has_a_connection_of_its_own(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    server = await _kept_alive_server(serve)
    transport = AsyncioTransport(httpx.Limits(max_connections=2, max_keepalive_connections=0))
    async with httpx.AsyncClient(transport=transport) as client:
        for _ in range(3):
            assert (await client.post(server.url, content=b"{}")).status_code == 200
        assert transport.pool.connections == []
        both = await asyncio.gather(*(client.get(server.url) for _ in range(2)))  # every slot came back
        assert [a.status_code for a in both] == [200, 200]
    assert server.connections == 5
