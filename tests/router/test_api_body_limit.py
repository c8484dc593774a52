"""The /v1 API refuses a body over ``ROUTER_MAX_BODY_BYTES`` with 413 problem+json before reading it in full, on
every operation that takes a body (taken from the document, so a route added later is covered): a
``Content-Length`` over the limit is answered with nothing of the body sent, a chunked body once it has passed the
limit, its end never sent. Before, each body was read whole, however large, and then answered (422 for 20 MB).
Raw sockets, so the answer is read while the body is still unsent."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator

import httpx

from alertrouter_router.runtime import RouterRuntime
from tests.router.conftest import TOKEN

CHUNK = 64 * 1024


async def _exchange(port: int, method: str, path: str, head: str, body: bytes) -> tuple[int, dict[str, str], str]:
    """Sends the request head and ``body`` (not all of what the head announces) and reads the answer within 10 s."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        request = f"{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {TOKEN}\r\n"
        writer.write(f"{request}content-type: application/json\r\n{head}\r\n".encode() + body)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
        headers: dict[str, str] = {}
        while (line := await asyncio.wait_for(reader.readline(), 10)) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        text = (await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), 10)).decode()
        return int(status_line.split()[1]), headers, text
    finally:
        writer.close()


def _with_body(document: dict[str, object]) -> list[tuple[str, str]]:
    paths = document["paths"]
    assert isinstance(paths, dict)
    return [
        (method.upper(), re.sub(r"\{[^}]+\}", "x", path))
        for path, item in paths.items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "requestBody" in operation
    ]


def _refused(status: int, headers: dict[str, str], text: str, where: str) -> None:
    assert status == 413, f"{where}: {status} {text}"
    assert headers["content-type"] == "application/problem+json", where
    assert "larger than the limit of 1048576 bytes" in json.loads(text)["detail"], where


async def test_a_declared_length_over_the_limit_is_refused_unread(
    router: RouterRuntime, api: httpx.AsyncClient
) -> None:
    assert router.state.settings.max_body_bytes == 1024 * 1024  # the default
    document = (await api.get("/openapi.json")).json()
    operations = _with_body(document)
    assert ("POST", "/v1/route/preview") in operations and len(operations) >= 10, operations
    for method, path in operations:
        where = f"{method} {path}"
        _refused(
            *await _exchange(router.state.settings.port, method, path, "content-length: 20000000\r\n", b"{"), where
        )
        template = next(p for p in document["paths"] if re.sub(r"\{[^}]+\}", "x", p) == path)
        assert "413" in document["paths"][template][method.lower()]["responses"], f"{where}: 413 not documented"


async def test_a_chunked_body_is_cut_off_once_past_the_limit(router: RouterRuntime) -> None:
    chunks = b"".join(b"%x\r\n%s\r\n" % (CHUNK, b" " * CHUNK) for _ in range(1024 * 1024 // CHUNK + 1))
    answer = await _exchange(
        router.state.settings.port,
        "POST",
        "/v1/route/preview",
        "transfer-encoding: chunked\r\n",
        b"1\r\n{\r\n" + chunks,
    )  # no last chunk: the body never ends
    _refused(*answer, "POST /v1/route/preview (chunked)")


async def test_nothing_is_written_and_a_body_under_the_limit_is_taken(api: httpx.AsyncClient) -> None:
    reason = f"big-{uuid.uuid4().hex}"
    window = {"starts_at": "2091-01-01T00:00:00Z", "ends_at": "2091-01-01T01:00:00Z", "reason": reason}

    async def oversized() -> AsyncIterator[bytes]:  # httpx sends it chunked, with no Content-Length
        yield json.dumps(window)[:-1].encode() + b', "padding": "'
        for _ in range(2 * 1024 * 1024 // CHUNK):
            yield b"x" * CHUNK
        yield b'"}'

    refused = await api.post(
        "/v1/services/checkout/maintenance", content=oversized(), headers={"content-type": "application/json"}
    )
    assert refused.status_code == 413, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    listed = await api.get("/v1/services/checkout/maintenance")
    assert reason not in listed.text
    near = json.dumps({"labels": {"service": "checkout"}}).encode() + b" " * 1_000_000  # under 1 MiB, valid JSON
    preview = await api.post("/v1/route/preview", content=near, headers={"content-type": "application/json"})
    assert preview.status_code == 200, preview.text
