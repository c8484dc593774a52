"""Prometheus metrics across worker processes (``INGEST_WORKERS`` > 1): prometheus-client's multiprocess mode.

Each uvicorn worker is its own process with its own counters, so without this ``/metrics`` shows whichever worker
answered the scrape. Before the workers start, the supervisor points ``PROMETHEUS_MULTIPROC_DIR`` at an empty
directory (a fresh temporary one unless the variable is set, in which case its old files are removed); every worker
inherits it, writes its values there, and any worker's ``/metrics`` sums them all. Gauges of requests in progress
are summed over live workers only (``multiprocess_mode="livesum"``); a worker marks itself dead when it stops.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

from alertrouter_shared.metrics import metrics_payload

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


def prepare_for_workers() -> Path:
    """An empty metrics directory for the workers about to start, named in the environment they inherit."""
    given = os.environ.get(MULTIPROCESS_DIR)
    if given:
        directory = Path(given)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
    else:
        directory = Path(tempfile.mkdtemp(prefix="alertrouter-ingest-metrics-"))
        os.environ[MULTIPROCESS_DIR] = str(directory)
    return directory


def metrics_body() -> tuple[bytes, str]:
    """The /metrics body: every worker's values summed in multiprocess mode, else this process's."""
    if not os.environ.get(MULTIPROCESS_DIR):
        return metrics_payload()
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry), CONTENT_TYPE_LATEST


def worker_stopped() -> None:
    """Drop this worker's live gauges (requests in flight) from the sums."""
    if os.environ.get(MULTIPROCESS_DIR):
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
