"""``alertrouter-ingest`` / ``python -m alertrouter_ingest``: serve the ingest API with uvicorn (uvloop, httptools)."""

from __future__ import annotations

import sys

import uvicorn

from alertrouter_ingest.app import create_app
from alertrouter_ingest.integrations import ConfigError
from alertrouter_ingest.settings import IngestSettings
from alertrouter_shared.logging import configure_logging


def main() -> None:
    settings = IngestSettings()
    configure_logging("ingest", settings.log_level, settings.log_format)
    if settings.workers > 1:
        _serve_workers(settings)
        return
    try:
        app = create_app(settings)
    except ConfigError as exc:
        print(f"alertrouter-ingest: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        access_log=False,  # uvicorn would log raw paths, which carry integration keys
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=10,
    )


def _serve_workers(settings: IngestSettings) -> None:
    """Several worker processes: uvicorn imports the app factory in each one."""
    uvicorn.run(
        "alertrouter_ingest.__main__:worker_app",
        factory=True,
        workers=settings.workers,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=10,
    )


def worker_app() -> object:
    settings = IngestSettings()
    configure_logging("ingest", settings.log_level, settings.log_format)
    return create_app(settings)


if __name__ == "__main__":
    main()
