"""Ingest's integrations follow the configuration's files without a restart.

Each worker polls the files' source version (``alertrouter_shared.config_source``, the fingerprint the router
reports too) every ``ALERTROUTER_CONFIG_POLL_SECONDS`` and, once a change has settled, loads the integrations again.
A new set replaces the one in force only when it loads completely: an invalid configuration (a missing key file,
a duplicate id) is logged, counted (``alertrouter_ingest_config_reloads_total{result="rejected"}``) and ignored, so
ingest keeps accepting exactly the keys it accepted before. Why a watch and no announcement: see
``alertrouter_router.config_watch`` and docs/operations.md ("Configuration changes").
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import Counter, Gauge

from alertrouter_ingest.integrations import ConfigError, IntegrationRegistry, load_registry
from alertrouter_ingest.process_metrics import MULTIPROCESS_DIR
from alertrouter_shared.config_source import SourceWatch, source_version
from alertrouter_shared.logging import get_logger

log = get_logger(__name__)

RELOADS = Counter(
    "alertrouter_ingest_config_reloads_total", "Integrations reloads after a change of the files", ["result"]
)
VERSION_INFO = Gauge(
    "alertrouter_ingest_config_version_info",
    "The configuration files' source version ingest serves; the value is the number of workers serving it",
    ["source_version"],
    multiprocess_mode="livesum",
)


def _drop_version(source: str) -> None:
    """The version no longer served: removed; with several workers set to 0 (their shared files cannot drop a
    label, and the sum over workers must not count this one)."""
    if os.environ.get(MULTIPROCESS_DIR):
        VERSION_INFO.labels(source).set(0)
    else:
        VERSION_INFO.remove(source)


def _source(path: str) -> str:
    try:
        return source_version(path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration: {exc}") from exc


def _read(path: str) -> tuple[str, IntegrationRegistry]:
    """(source version, integrations); the version is read first, so a change during the load is seen later."""
    source = _source(path)
    return source, load_registry(path)


@dataclass
class IntegrationsConfig:
    """The integrations in force and the version of the files they came from."""

    registry: IntegrationRegistry
    path: str | None
    source_version: str | None  # None: no configuration (ALERTROUTER_CONFIG unset): no integration
    loaded_at: datetime
    watch: SourceWatch | None = None
    rejected_at: datetime | None = None
    rejected_errors: int = 0

    @classmethod
    def load(cls, path: str | None) -> IntegrationsConfig:
        """At start-up; raises ConfigError (ingest does not start on an invalid configuration)."""
        if not path:
            return cls(load_registry(None), None, None, datetime.now(UTC))
        source, registry = _read(path)
        config = cls(registry, path, source, datetime.now(UTC), SourceWatch(source))
        VERSION_INFO.labels(source).set(1)
        return config

    def reload(self) -> bool:
        """Load the files again; the new integrations replace the old ones only when they all load."""
        if self.watch is None or self.path is None:
            return False
        old = self.source_version
        source: str | None = None
        try:
            source = _source(self.path)
            registry = load_registry(self.path)
        except ConfigError as exc:
            RELOADS.labels("rejected").inc()
            self.rejected_at = datetime.now(UTC)
            self.rejected_errors = max(1, len(str(exc).splitlines()) - 1)  # a heading, then one line each
            if source is not None:
                # the files refused are those read before loading: the folder read again now could already hold
                # the fix (written while this load ran), which was then never loaded until the files changed again
                self.watch.settle(source)
            log.warning("config_reload_rejected", errors=str(exc)[:4000], source=(old or "")[:12])
            return False
        RELOADS.labels("loaded").inc()
        self.registry, self.source_version, self.loaded_at = registry, source, datetime.now(UTC)
        self.rejected_at, self.rejected_errors = None, 0
        self.watch.settle(source)
        if old is not None and old != source:
            _drop_version(old)
        VERSION_INFO.labels(source).set(1)
        log.info("config_reloaded", source=source[:12], integrations=len(registry))
        return True

    def look_for_change(self) -> None:
        if self.watch is None or self.path is None:
            return
        try:
            changed = self.watch.poll(self.path)
        except OSError as exc:
            log.warning("config_watch_unreadable", path=self.path, error=repr(exc))
            return
        if changed is not None:
            self.reload()

    async def follow(self, interval: float, stopping: asyncio.Event) -> None:
        """Until ``stopping``: look for a change of the files every ``interval`` seconds (0: never)."""
        if self.watch is None or interval <= 0:
            return
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), interval)
            try:
                self.look_for_change()
            except Exception as exc:  # a bug must not end the watch: the integrations in force keep serving
                log.error("config_watch_failed", error=repr(exc))
