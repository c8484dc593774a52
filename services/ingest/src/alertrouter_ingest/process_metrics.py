"""Prometheus metrics across worker processes (``INGEST_WORKERS`` > 1): prometheus-client's multiprocess mode.

Each uvicorn worker is its own process with its own counters, so without this ``/metrics`` shows whichever worker
answered the scrape. Before the workers start, the supervisor points ``PROMETHEUS_MULTIPROC_DIR`` at an empty
directory (a fresh temporary one unless the variable is set, in which case its old files are removed); every worker
inherits it, writes its values there, and any worker's ``/metrics`` sums them all. Gauges of requests in progress
are summed over live workers only (``multiprocess_mode="livesum"``): a worker marks itself dead when it stops, and
a worker that died without stopping (killed, out of memory; uvicorn starts another) is marked dead at the next
scrape, as prometheus-client asks of whoever sees a worker die. When the supervisor stops, after its workers, the
temporary directory is removed (a directory the variable names is left to the next start, which clears it).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

from alertrouter_shared.metrics import metrics_payload

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


@dataclass(frozen=True)
class WorkersMetrics:
    directory: Path
    temporary: bool  # made by prepare_for_workers, so removed by remove_after_workers

    def remove_after_workers(self) -> None:
        """Once every worker has stopped: the temporary directory goes (a given one is cleared at the next start)."""
        if self.temporary:
            shutil.rmtree(self.directory, ignore_errors=True)


def prepare_for_workers() -> WorkersMetrics:
    """An empty metrics directory for the workers about to start, named in the environment they inherit."""
    given = os.environ.get(MULTIPROCESS_DIR)
    if given:
        directory = Path(given)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
        return WorkersMetrics(directory, temporary=False)
    directory = Path(tempfile.mkdtemp(prefix="alertrouter-ingest-metrics-"))
    os.environ[MULTIPROCESS_DIR] = str(directory)
    return WorkersMetrics(directory, temporary=True)


def metrics_body() -> tuple[bytes, str]:
    """The /metrics body: every worker's values summed in multiprocess mode, else this process's."""
    directory = os.environ.get(MULTIPROCESS_DIR)
    if not directory:
        return metrics_payload()
    forget_dead_workers(Path(directory))
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry), CONTENT_TYPE_LATEST


def worker_stopped() -> None:
    """Drop this worker's live gauges (requests in flight) from the sums."""
    if os.environ.get(MULTIPROCESS_DIR):
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


_LIVE_GAUGE_FILE = re.compile(r"^gauge_live[a-z]*_(\d+)\.db$")


def forget_dead_workers(directory: Path) -> None:
    """Drop the live gauges of workers that died without stopping (a killed or crashed worker never ran
    ``worker_stopped``): their requests in flight would otherwise be summed for ever."""
    pids = {int(m.group(1)) for f in directory.glob("gauge_live*.db") if (m := _LIVE_GAUGE_FILE.match(f.name))}
    for pid in pids:
        if not _alive(pid):
            multiprocess.mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process holds the number
    return True
