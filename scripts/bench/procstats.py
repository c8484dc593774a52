"""CPU seconds and resident memory of process trees, read from /proc, and Kafka consumer lag from /metrics.

Why process trees: ``INGEST_WORKERS=2`` runs uvicorn workers as children, and PostgreSQL serves each
connection from its own backend process, so a service's cost is the sum over its tree. CPU of children that
already exited is included through the parent's cutime/cstime.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .httpclient import get_json_bytes
from .results import ConsumerLag, ProcessUsage
from .stats import per_thousand

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
MIB = 1024 * 1024
LAG_METRIC = "alertrouter_consumer_lag_records"


def _stat_fields(pid: int) -> list[str]:
    """Fields after the command name (which may contain spaces), so index 0 is the state (field 3)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text.rsplit(")", 1)[1].split()


def parent_map() -> dict[int, int]:
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                parents[int(entry.name)] = int(_stat_fields(int(entry.name))[1])
    return parents


def process_tree(root: int, parents: dict[int, int] | None = None) -> list[int]:
    parents = parent_map() if parents is None else parents
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in parents or pid == root:
            tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def cpu_seconds(pids: list[int], root: int | None) -> float:
    """utime+stime of every live process, plus the reaped children's time accounted to ``root`` (if given)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = _stat_fields(pid)
            total += int(fields[11]) + int(fields[12])
            if pid == root:
                total += int(fields[13]) + int(fields[14])
    return total / CLOCK_TICKS


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE
    return total


def parse_lag(metrics_text: str) -> dict[str, int]:
    """Sum of the lag gauge per consumer group, from a Prometheus text exposition."""
    lag: dict[str, int] = {}
    for line in metrics_text.splitlines():
        if not line.startswith(LAG_METRIC + "{"):
            continue
        labels, _, value = line.rpartition(" ")
        group = labels.split('group="', 1)[1].split('"', 1)[0] if 'group="' in labels else "?"
        lag[group] = lag.get(group, 0) + int(float(value))
    return lag


@dataclass
class Watched:
    name: str
    pid: Callable[[], int | None]
    tree: bool = True


@dataclass
class _Window:
    cpu_start: dict[str, float]
    peak_rss: dict[str, int] = field(default_factory=dict)
    processes: dict[str, int] = field(default_factory=dict)
    lag: dict[str, list[int]] = field(default_factory=dict)


class Sampler:
    """Samples the watched trees (RSS, every 0.5 s) and the lag endpoints (every 1 s) while phases run."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.watched: list[Watched] = []
        self.lag_endpoints: dict[str, tuple[str, int]] = {}
        self._windows: dict[str, _Window] = {}
        self._task: asyncio.Task[None] | None = None
        self._trees: dict[str, tuple[int, list[int]]] = {}
        self._trees_at = 0.0

    def watch(self, name: str, pid: Callable[[], int | None], tree: bool = True) -> None:
        """``tree=False`` counts the process alone (the bench client, whose children are the stack itself)."""
        self.watched = [w for w in self.watched if w.name != name] + [Watched(name, pid, tree)]

    def unwatch(self, name: str) -> None:
        self.watched = [w for w in self.watched if w.name != name]

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="sampler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def begin(self, window: str) -> None:
        trees = self._current_trees(force=True)
        cpu = {name: cpu_seconds(pids, self._reaped_root(name, root)) for name, (root, pids) in trees.items()}
        self._windows[window] = _Window(cpu_start=cpu)
        self._sample_rss(trees)

    def end(self, window: str, alerts: int) -> tuple[list[ProcessUsage], list[ConsumerLag]]:
        data = self._windows.pop(window)
        trees = self._current_trees(force=True)
        self._sample_rss(trees, data)
        usage = []
        for name, (root, pids) in trees.items():
            if name not in data.cpu_start:
                continue
            spent = max(0.0, cpu_seconds(pids, self._reaped_root(name, root)) - data.cpu_start[name])
            usage.append(
                ProcessUsage(
                    name=name,
                    cpu_seconds=round(spent, 3),
                    cpu_seconds_per_1000_alerts=per_thousand(spent, alerts),
                    peak_rss_mib=round(data.peak_rss.get(name, 0) / MIB, 1),
                    processes=data.processes.get(name, len(pids)),
                )
            )
        lag = [
            ConsumerLag(group=group, max_records=max(values), last_records=values[-1], samples=len(values))
            for group, values in sorted(data.lag.items())
            if values
        ]
        return usage, lag

    def last_lag(self, window: str, group: str) -> int | None:
        values = self._windows[window].lag.get(group) if window in self._windows else None
        return values[-1] if values else None

    def peak_rss_mib(self, window: str, name: str) -> float:
        return self._windows[window].peak_rss.get(name, 0) / MIB if window in self._windows else 0.0

    def current_rss_mib(self, name: str) -> float:
        tree = self._current_trees(force=True).get(name)
        return rss_bytes(tree[1]) / MIB if tree else 0.0

    def _reaped_root(self, name: str, root: int) -> int | None:
        """The bench client reaps the services it stops: their CPU must not count as the client's."""
        return root if any(w.name == name and w.tree for w in self.watched) else None

    async def _run(self) -> None:
        tick = 0
        while True:
            self._sample_rss(self._current_trees())
            if tick % 2 == 0 and self._windows:
                await self._sample_lag()
            tick += 1
            await asyncio.sleep(self.interval)

    def _current_trees(self, force: bool = False) -> dict[str, tuple[int, list[int]]]:
        now = time.monotonic()
        if force or now - self._trees_at > 2.0:
            parents = parent_map()
            trees = {}
            for watched in self.watched:
                root = watched.pid()
                if root is not None and root in parents:
                    trees[watched.name] = (root, process_tree(root, parents) if watched.tree else [root])
            self._trees, self._trees_at = trees, now
        return self._trees

    def _sample_rss(self, trees: dict[str, tuple[int, list[int]]], only: _Window | None = None) -> None:
        windows = [only] if only is not None else list(self._windows.values())
        for name, (_, pids) in trees.items():
            rss = rss_bytes(pids)
            for window in windows:
                window.peak_rss[name] = max(window.peak_rss.get(name, 0), rss)
                window.processes[name] = max(window.processes.get(name, 0), len(pids))

    async def _sample_lag(self) -> None:
        for host, port in self.lag_endpoints.values():
            try:
                response = await get_json_bytes(host, port, "/metrics", timeout=2.0)
            except (OSError, TimeoutError):
                continue
            for group, value in parse_lag(response.body.decode()).items():
                for window in self._windows.values():
                    window.lag.setdefault(group, []).append(value)
