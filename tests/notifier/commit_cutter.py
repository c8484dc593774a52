"""A TCP proxy in front of PostgreSQL that loses a connection right after the server committed a statement.

The in-doubt commit: the row is stored, the client hears only that the connection died. Armed once, the proxy
watches the server's answers for a CommandComplete with the armed tag (an INSERT's, or ``UPDATE 1``: one row) followed
by ReadyForQuery with the idle status (the implicit transaction of a statement sent without BEGIN has committed),
drops that answer and closes both sides.
Every other byte passes through untouched, and connections opened later are served normally.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

from sqlalchemy.engine import make_url

INSERTED = b"INSERT 0 "
UPDATED_ONE = b"UPDATE 1\x00"
_IDLE = b"Z\x00\x00\x00\x05I"  # ReadyForQuery, transaction status idle


class CommitCutter:
    def __init__(self, database_url: str) -> None:
        self._target = make_url(database_url)
        self._server: asyncio.Server | None = None
        self._armed: bytes | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.cut = asyncio.Event()
        self.url = ""

    def arm(self, tag: bytes = INSERTED) -> None:
        """Cut after the next statement whose command tag starts with ``tag``."""
        self._armed = tag

    async def __aenter__(self) -> CommitCutter:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = self._target.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection(self._target.host, self._target.port or 5432)
        answer = bytearray()  # the server's answer to what the client sent last
        writers = (client_writer, server_writer)

        async def upstream() -> None:
            while data := await client_reader.read(65536):
                answer.clear()
                server_writer.write(data)
                await server_writer.drain()

        async def downstream() -> None:
            while data := await server_reader.read(65536):
                answer.extend(data)
                done = answer.find(self._armed) if self._armed else -1
                if done >= 0 and answer.find(_IDLE, done) >= 0:
                    self._armed = None
                    self.cut.set()
                    return
                client_writer.write(data)
                await client_writer.drain()

        tasks = [asyncio.create_task(upstream()), asyncio.create_task(downstream())]
        self._tasks.update(tasks)
        with contextlib.suppress(Exception):
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
            self._tasks.discard(task)
        for writer in writers:
            writer.close()
