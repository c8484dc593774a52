"""``alertrouter-notifier [run|migrate]``: the consumer and HTTP API in one process, or the schema upgrade."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

import uvicorn

from alertrouter_notifier.db.migrate import upgrade_to_head
from alertrouter_notifier.public_url import PublicUrlError
from alertrouter_notifier.runtime import Notifier
from alertrouter_notifier.settings import NotifierSettings
from alertrouter_shared.logging import configure_logging, get_logger
from alertrouter_shared.serving import HTTP_DRAIN_SECONDS, run_fast

log = get_logger(__name__)


async def run(settings: NotifierSettings) -> int:
    """The HTTP server first (health answers, readiness says Kafka no), then the notifier, which waits for Kafka
    when it is away at start instead of exiting (a pod restarted during an outage would crash-loop)."""
    notifier = Notifier(settings)
    config = uvicorn.Config(
        notifier.create_app(),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=HTTP_DRAIN_SECONDS,
    )
    server = uvicorn.Server(config)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    serve = asyncio.create_task(server.serve())
    starting = asyncio.create_task(notifier.start())
    exit_code = 0
    try:
        while not stopping.is_set():
            if starting.done() and starting.exception() is not None:
                starting.result()  # PublicUrlError and the like: the configuration cannot work
            if serve.done() and server.should_exit and serve.exception() is None:
                break  # uvicorn saw the signal first; it re-raises it to us once it has stopped
            if notifier.failed_task is not None or serve.done():
                log.error("notifier_component_died", error=repr(notifier.failed_task or serve.exception()))
                exit_code = 1
                break
            try:
                await asyncio.wait_for(stopping.wait(), timeout=1.0)
            except TimeoutError:
                continue
    finally:
        server.should_exit = True
        with contextlib.suppress(BaseException):
            await serve
        starting.cancel()  # a start still waiting for Kafka: nothing was started yet
        with contextlib.suppress(BaseException):
            await starting
        await notifier.stop()
    return exit_code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="alertrouter-notifier", description=__doc__)
    parser.add_argument("command", nargs="?", default="run", choices=["run", "migrate"])
    parser.add_argument("--wait", type=float, default=60.0, help="migrate: seconds to wait for the database")
    args = parser.parse_args(argv)
    settings = NotifierSettings()
    configure_logging("notifier", settings.log_level, settings.log_format)
    if args.command == "migrate":
        upgrade_to_head(settings.database_url, args.wait)
        return 0
    try:
        return run_fast(run(settings))
    except PublicUrlError as exc:
        log.error("public_url_unreachable", error=str(exc))
        print(f"alertrouter-notifier: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
