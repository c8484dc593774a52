"""The configuration in force, swapped atomically on reload; an invalid new one never replaces it."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import Counter, Gauge

from alertrouter_router.ownership.errors import ConfigError
from alertrouter_router.ownership.loader import LoadedConfig, load_config
from alertrouter_shared.logging import get_logger

log = get_logger(__name__)

RELOADS = Counter("alertrouter_router_config_reloads_total", "Configuration reload attempts", ["result"])
LOADED_AT = Gauge("alertrouter_router_config_loaded_timestamp_seconds", "When the configuration in force was loaded")


@dataclass
class ConfigHolder:
    path: str
    current: LoadedConfig
    last_error: list[str] = field(default_factory=list)
    last_error_at: datetime | None = None

    @classmethod
    def load(cls, path: str) -> ConfigHolder:
        loaded = load_config(path)
        LOADED_AT.set(loaded.loaded_at.timestamp())
        log.info("config_loaded", version=loaded.short_version, files=len(loaded.files))
        return cls(path=path, current=loaded)

    def reload(self) -> LoadedConfig:
        """Load the files again; raise ConfigError (and keep serving the old version) when they are invalid."""
        try:
            loaded = load_config(self.path)
        except ConfigError as exc:
            RELOADS.labels("rejected").inc()
            self.last_error = [str(issue) for issue in exc.issues]
            self.last_error_at = datetime.now().astimezone()
            log.warning("config_reload_rejected", errors=self.last_error[:20], version=self.current.short_version)
            raise
        RELOADS.labels("loaded").inc()
        self.current = loaded
        self.last_error = []
        LOADED_AT.set(loaded.loaded_at.timestamp())
        log.info("config_reloaded", version=loaded.short_version)
        return loaded

    def reload_logged(self) -> None:
        """SIGHUP handler: failures are logged and counted, never raised."""
        with contextlib.suppress(ConfigError):
            self.reload()
