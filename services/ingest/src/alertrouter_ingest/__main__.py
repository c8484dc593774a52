"""``alertrouter-ingest`` / ``python -m alertrouter_ingest``: serve the ingest API with uvicorn (uvloop, httptools)."""

from __future__ import annotations

import argparse
import sys

import uvicorn

from alertrouter_ingest.app import create_app
from alertrouter_ingest.integrations import ConfigError
from alertrouter_ingest.process_metrics import prepare_for_workers
from alertrouter_ingest.settings import IngestSettings
from alertrouter_shared.collector import freeze_startup_heap
from alertrouter_shared.logging import configure_logging


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """Only --help: every setting comes from the environment (so one image serves every deployment)."""
    parser = argparse.ArgumentParser(
        prog="alertrouter-ingest",
        description="Serve the alertrouter ingest API: Alertmanager, Grafana, CloudWatch (SNS) and PagerDuty "
        "Events API v2 intakes, producing alert events to Kafka.",
        epilog="Configured by environment variables only: KAFKA_BOOTSTRAP_SERVERS, ALERTROUTER_CONFIG (the "
        "ownership configuration), LOG_LEVEL, and INGEST_* (INGEST_PORT, INGEST_WORKERS, INGEST_MAX_BODY_BYTES, "
        "INGEST_BODY_READ_TIMEOUT_SECONDS, ...). Every variable is listed in docs/settings.md.",
    )
    return parser.parse_args(argv)


def main() -> None:
    parse_arguments()
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
    freeze_startup_heap()
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
    """Several worker processes: uvicorn imports the app factory in each one; their metrics are summed."""
    metrics = prepare_for_workers()
    try:
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
    finally:
        metrics.remove_after_workers()


def worker_app() -> object:
    settings = IngestSettings()
    configure_logging("ingest", settings.log_level, settings.log_format)
    app = create_app(settings)
    freeze_startup_heap()
    return app


if __name__ == "__main__":
    main()
