"""The configuration in force, swapped atomically on reload; an invalid new one never replaces it.

Every load (start-up, ``POST /v1/config/reload``, SIGHUP, the watch on the files) goes through the holder: it
reads the files' source version first (a change during the load is then seen by the next poll, never missed),
publishes the version in force as a metric, and remembers the load until it is kept in PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prometheus_client import Counter, Gauge

from alertrouter_router.config_versions import VersionLoad
from alertrouter_router.ownership.diff import comparable
from alertrouter_router.ownership.errors import ConfigError, ConfigIssue
from alertrouter_router.ownership.loader import LoadedConfig, load_config
from alertrouter_shared.config_source import SourceWatch, source_version
from alertrouter_shared.logging import get_logger

log = get_logger(__name__)

RELOADS = Counter("alertrouter_router_config_reloads_total", "Configuration reload attempts", ["result"])
LOADED_AT = Gauge("alertrouter_router_config_loaded_timestamp_seconds", "When the configuration in force was loaded")
VERSION_INFO = Gauge(
    "alertrouter_router_config_version_info",
    "The configuration version this process serves (value 1): its model hash and its files' source version",
    ["version", "source_version"],
)

STARTUP = "client:startup"


def _source(path: str) -> str:
    try:
        return source_version(path)
    except OSError as exc:
        raise ConfigError([ConfigIssue(path, None, "<document>", f"cannot read the files: {exc}")]) from exc


def _read(path: str) -> tuple[str, LoadedConfig]:
    source = _source(path)
    return source, load_config(path)


# Files whose services are gone (a ConfigMap rendered without its service files, a bad merge) would route every alert
# nowhere: decided and recorded, but nobody paged. A start with no service runs (a fresh install: nothing to route yet).
NO_SERVICES = (
    "no service is defined: every alert would be unrouted and nobody paged; the configuration in force, which has "
    "services, stays (define at least one service)"
)


def _refuse_losing_every_service(current: LoadedConfig, loaded: LoadedConfig, path: str) -> None:
    if current.config.services and not loaded.config.services:
        raise ConfigError([ConfigIssue(path, None, "services", NO_SERVICES)])


@dataclass
class ConfigHolder:
    path: str
    current: LoadedConfig
    source_version: str
    watch: SourceWatch
    last_error: list[str] = field(default_factory=list)
    last_rejected_at: datetime | None = None  # when a newer configuration was last refused; None after a good load
    unkept: VersionLoad | None = None  # the last load, not yet kept in PostgreSQL (retried by the watch loop)
    keeping: asyncio.Lock = field(default_factory=asyncio.Lock)  # one keep at a time: rows in the order of loads

    @classmethod
    def load(cls, path: str) -> ConfigHolder:
        source, loaded = _read(path)
        holder = cls(path=path, current=loaded, source_version=source, watch=SourceWatch(source))
        holder._in_force(loaded, source, "startup", STARTUP, None)
        log.info("config_loaded", version=loaded.short_version, source=source[:12], files=len(loaded.files))
        return holder

    def reload(self, trigger: str, loaded_by: str, token_id: str | None = None) -> LoadedConfig:
        """Load the files again; raise ConfigError (and keep serving the old version) when they are invalid."""
        source: str | None = None
        try:
            source = _source(self.path)
            loaded = load_config(self.path)
            _refuse_losing_every_service(self.current, loaded, self.path)
        except ConfigError as exc:
            RELOADS.labels("rejected").inc()
            self.last_error = [str(issue) for issue in exc.issues]
            self.last_rejected_at = datetime.now(UTC)
            if source is not None:
                # Reported once, not at every poll. The files refused are those read before loading: the folder
                # read again now could already hold the fix (written while this load ran), which was then settled
                # as refused and never loaded until the files changed once more.
                self.watch.settle(source)
            log.warning(
                "config_reload_rejected",
                trigger=trigger,
                errors=self.last_error[:20],
                version=self.current.short_version,
            )
            raise
        RELOADS.labels("loaded").inc()
        self.last_error, self.last_rejected_at = [], None
        self._in_force(loaded, source, trigger, loaded_by, token_id)
        log.info("config_reloaded", trigger=trigger, version=loaded.short_version, source=source[:12])
        return loaded

    def _in_force(self, loaded: LoadedConfig, source: str, trigger: str, loaded_by: str, token_id: str | None) -> None:
        VERSION_INFO.clear()
        VERSION_INFO.labels(loaded.version, source).set(1)
        LOADED_AT.set(loaded.loaded_at.timestamp())
        self.current, self.source_version = loaded, source
        self.watch.settle(source)
        self.unkept = VersionLoad(
            loaded.version,
            source,
            loaded.loaded_at,
            trigger,
            loaded_by,
            token_id,
            loaded.files,
            comparable(loaded.config),
        )

    def reload_logged(self, trigger: str, loaded_by: str) -> None:
        """SIGHUP and the watch: failures are logged and counted, never raised."""
        with contextlib.suppress(ConfigError):
            self.reload(trigger, loaded_by)
