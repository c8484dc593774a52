"""An HTTP server that runs beside other tasks in one process and leaves signal handling to its owner.

uvicorn's own signal capture would swallow SIGTERM meant for the consumer loops sharing the process.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator
from typing import Any

import uvicorn


class EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def embedded_server(app: Any, host: str, port: int) -> EmbeddedServer:
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, loop="asyncio")
    return EmbeddedServer(config)
