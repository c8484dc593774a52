"""An HTTP server that runs beside other tasks in one process and leaves signal handling to its owner.

uvicorn's own signal capture would swallow SIGTERM meant for the consumer loops sharing the process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

import uvicorn

from alertrouter_shared.collector import freeze_startup_heap

T = TypeVar("T")

# After SIGTERM, requests in hand get this long to finish before uvicorn cancels them: the services' drain is
# bounded, so a pod's terminationGracePeriodSeconds can cover it (the Helm chart's defaults do).
HTTP_DRAIN_SECONDS = 10


class EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def embedded_server(app: Any, host: str, port: int) -> EmbeddedServer:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        loop="asyncio",
        timeout_graceful_shutdown=HTTP_DRAIN_SECONDS,
    )
    return EmbeddedServer(config)


def run_fast(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run on uvloop (asyncpg, aiokafka and uvicorn all spend less CPU on it); plain asyncio elsewhere.

    The heap imported so far is frozen first (``collector``): a service's full collections stay short."""
    freeze_startup_heap()
    try:
        import uvloop
    except ImportError:  # not on every platform (uvloop has no Windows build)
        return asyncio.run(main)
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return asyncio.run(main)
