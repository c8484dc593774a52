"""Every router process (API and consumers) loads a change of the configuration's files on its own, and keeps each
version it loaded in PostgreSQL.

Why a watch on the files and no announcement between processes: the files are what every process loads, and on
Kubernetes they reach each pod on their own schedule (the kubelet swaps the ConfigMap mount's ``..data`` symlink
up to a minute or so apart between pods), so a message saying "version X is out" could arrive before the files
and make a process re-read the old ones. Reading a few kilobytes every ``ALERTROUTER_CONFIG_POLL_SECONDS``
converges whatever the order, needs no broker, and works the same with a compose bind mount. See
docs/operations.md ("Configuration changes").
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from alertrouter_router import config_versions, heartbeats
from alertrouter_router.db import alert_rechecks
from alertrouter_router.db.pool import Conn
from alertrouter_router.state import RouterState
from alertrouter_shared.db_errors import is_transient
from alertrouter_shared.logging import get_logger

log = get_logger(__name__)

WATCH = "client:watch"
KEEP_RETRY_SECONDS = 5.0  # when the watch is off, how often a load not yet kept is retried


async def keep_loaded(state: RouterState) -> None:
    """Keep the last load in PostgreSQL; a database outage leaves it for the next try (any other error is a bug
    and ends the process, like a failing consumer)."""
    async with state.configs.keeping:  # a signal's keep and the loop's must not cross: order is history
        load = state.configs.unkept
        if load is None:
            return
        try:
            async with state.pool.acquire() as conn:
                added = await config_versions.keep(conn, load)
                await heartbeats.pause_unmonitored(conn, state.configs.current)
                unrouted = await _recheck_unrouted(conn, state)
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("config_version_not_kept", version=load.version[:12], error=repr(exc))
            return
        if state.configs.unkept is load:
            state.configs.unkept = None
    if added:
        log.info("config_version_kept", version=load.version[:12], trigger=load.trigger, by=load.loaded_by)
    if unrouted:
        log.info("unrouted_alerts_rechecked", version=load.version[:12], alerts=unrouted)


async def _recheck_unrouted(conn: Conn, state: RouterState) -> int:
    """The alerts no rule routed are looked at again under the configuration this process loaded. Every process
    does it after each load it keeps; a process still on the version that found an alert unrouted leaves its look
    to the others (``timers._claim_rechecks``)."""
    hours = state.settings.unrouted_recheck_hours
    if hours == 0:
        return 0
    now = state.clock.now()
    version = state.configs.current.version
    return await alert_rechecks.recheck_unrouted(conn, now, now - timedelta(hours=hours), version)


def look_for_change(state: RouterState) -> bool:
    """Load the files when the watch says they changed (and settled); True when a load was attempted."""
    try:
        changed = state.configs.watch.poll(state.configs.path)
    except OSError as exc:
        log.warning("config_watch_unreadable", path=state.configs.path, error=repr(exc))
        return False
    if changed is None:
        return False
    state.configs.reload_logged("watch", WATCH)
    return True


async def watch_config(state: RouterState) -> None:
    interval = state.settings.config_poll_seconds
    while not state.stopping.is_set():
        if interval > 0:
            look_for_change(state)
        await keep_loaded(state)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.stopping.wait(), interval or KEEP_RETRY_SECONDS)
