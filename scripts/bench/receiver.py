"""The benchmark's provider: a fast HTTP server that timestamps every notification it receives.

Why its own process: the arrival time must not wait for the load generator's event loop. Both processes read
CLOCK_MONOTONIC (``time.monotonic``), which is one clock for the whole machine on Linux, so a send time in the
generator and an arrival time here can be subtracted.

Run: ``python -m scripts.bench.receiver --port N`` (prints ``ready`` once listening). Every POST is recorded as
``[arrival monotonic seconds, kind, bench_id, path, page_id, decided]`` per alert it carries, where ``decided`` is
the page's ``created_at`` (the router's decision instant, wall clock) on the monotonic clock, or null; ``GET
/_bench/records?since=K`` returns the records from index K on.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import datetime
from typing import cast
from urllib.parse import parse_qs, urlsplit

import httptools
import orjson
import uvloop

from .payloads import bench_ids_in_notification

Record = tuple[float, str, str, str, str, float | None]
RECORDS: list[Record] = []
OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}'


def record_notification(arrived: float, path: str, raw: bytes) -> int:
    """Parse one notification and append a record per bench alert in it; returns how many were recorded."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return 0
    kind, ids = bench_ids_in_notification(body)
    page = body.get("page") if isinstance(body, dict) else None
    page_id = str(page.get("page_id", "")) if isinstance(page, dict) else ""
    decided = _decided(page, arrived) if isinstance(page, dict) else None
    for bench_id in ids:
        RECORDS.append((arrived, kind, bench_id, path, page_id, decided))
    return len(ids)


def _decided(page: dict[str, object], arrived: float) -> float | None:
    """The page's ``created_at`` moved onto the monotonic clock by the wall-clock time since it."""
    try:
        created = datetime.fromisoformat(str(page["created_at"])).timestamp()
    except (KeyError, ValueError):
        return None
    return arrived - (time.time() - created)


def records_since(query: str) -> bytes:
    since = int(parse_qs(query).get("since", ["0"])[0])
    return orjson.dumps({"next": len(RECORDS), "records": RECORDS[since:]})


class _ServerConnection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    def on_message_begin(self) -> None:
        self.url = b""
        self.body = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        arrived = time.monotonic()
        if self.transport is None:
            return
        method = self.parser.get_method()
        parts = urlsplit(self.url.decode("latin-1"))
        if method == b"POST":
            record_notification(arrived, parts.path, b"".join(self.body))
            self.transport.write(OK)
        elif parts.path == "/_bench/records":
            self._reply(records_since(parts.query))
        else:
            self._reply(b'{"ok":true}')
        if not self.parser.should_keep_alive():
            self.transport.close()

    def _reply(self, payload: bytes) -> None:
        assert self.transport is not None
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        self.transport.write(head.encode() + payload)


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_ServerConnection, host, port, backlog=4096)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="benchmark notification receiver")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    uvloop.run(serve(args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
