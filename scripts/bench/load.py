"""Load drivers: open loop at a fixed offered rate (latency) and closed loop at a fixed concurrency (capacity).

Open loop schedules request i at ``t0 + i / rate`` whatever the answers, and latency is measured from that
scheduled instant, so a slow system cannot slow the generator down and hide its own queueing (coordinated
omission). Closed loop keeps ``concurrency`` requests in flight back to back and counts what completes inside
the measurement window (after a warm-up).
"""

from __future__ import annotations

import asyncio
import re
import resource
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from .httpclient import ConnectionClosed, Pool
from .payloads import (
    ALERTMANAGER_PATH,
    INGEST_PATH,
    AlertId,
    IdSource,
    alertmanager_api_alerts,
    alertmanager_webhook,
)

RequestFactory = Callable[[int], tuple[bytes, list[AlertId]]]
DROPPED = -1
TRANSPORT_ERROR = 0


@dataclass
class Sent:
    scheduled: float
    started: float
    finished: float
    status: int
    retry_after: bool
    alerts: list[AlertId]
    detail: str = ""

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300


def webhook_requests(pool: Pool, ids: IdSource, service: str, batch: int = 1) -> RequestFactory:
    """Alertmanager webhooks to alertrouter's ingest, ``batch`` new alerts each."""

    def make(_: int) -> tuple[bytes, list[AlertId]]:
        alerts = ids.take(batch)
        return pool.prepare("POST", INGEST_PATH, alertmanager_webhook(alerts, service)), alerts

    return make


def api_requests(pool: Pool, ids: IdSource, service: str, batch: int = 1) -> RequestFactory:
    """``POST /api/v2/alerts`` to a real Alertmanager, ``batch`` new alerts each."""

    def make(_: int) -> tuple[bytes, list[AlertId]]:
        alerts = ids.take(batch)
        return pool.prepare("POST", ALERTMANAGER_PATH, alertmanager_api_alerts(alerts, service)), alerts

    return make


def status_name(status: int, detail: str = "") -> str:
    name = {DROPPED: "client_dropped", TRANSPORT_ERROR: "transport_error"}.get(status, str(status))
    return f"{name} ({detail})" if detail else name


def status_counts(sent: list[Sent]) -> dict[str, int]:
    return dict(sorted(Counter(status_name(s.status, s.detail) for s in sent).items()))


def refusal_detail(body: bytes) -> str:
    """The gist of a refusal's problem+json ``detail`` (numbers masked, so equal refusals count together)."""
    try:
        detail = orjson.loads(body).get("detail", "")
    except (orjson.JSONDecodeError, AttributeError):
        return ""
    return re.sub(r"\d+(\.\d+)?", "N", str(detail))[:60] if detail else ""


def client_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _send(pool: Pool, data: bytes, drop_when_busy: bool) -> tuple[int, bool, str]:
    try:
        response = await (pool.try_request(data) if drop_when_busy else pool.request(data))
    except (OSError, TimeoutError, ConnectionClosed):
        return TRANSPORT_ERROR, False, ""
    if response is None:
        return DROPPED, False, ""
    detail = "" if 200 <= response.status < 300 else refusal_detail(response.body)
    return response.status, response.retry_after is not None, detail


async def open_loop(
    pool: Pool,
    rate: float,
    seconds: float,
    make_request: RequestFactory,
    *,
    drop_when_busy: bool = False,
    first_index: int = 0,
) -> list[Sent]:
    """Offer ``rate`` requests per second for ``seconds``; returns every request, in completion order."""
    results: list[Sent] = []
    tasks: set[asyncio.Task[None]] = set()
    total = int(rate * seconds)
    t0 = time.monotonic() + 0.01

    async def one(index: int, scheduled: float) -> None:
        data, alerts = make_request(index)
        started = time.monotonic()
        status, retry_after, detail = await _send(pool, data, drop_when_busy)
        results.append(Sent(scheduled, started, time.monotonic(), status, retry_after, alerts, detail))

    i = 0
    while i < total:
        now = time.monotonic()
        due = t0 + i / rate
        if due > now:
            await asyncio.sleep(due - now)
            continue
        while i < total and t0 + i / rate <= now:
            task = asyncio.create_task(one(first_index + i, t0 + i / rate))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            i += 1
    if tasks:
        await asyncio.gather(*tasks)
    return results


@dataclass
class ClosedLoopResult:
    sent: list[Sent]
    window_start: float
    window_end: float
    client_cpu_seconds: float

    @property
    def seconds(self) -> float:
        return self.window_end - self.window_start

    @property
    def in_window(self) -> list[Sent]:
        """Requests that completed inside the window (whenever they started): a slow answer still counts."""
        return [s for s in self.sent if self.window_start <= s.finished <= self.window_end]


async def closed_loop(
    pool: Pool,
    concurrency: int,
    warmup: float,
    seconds: float,
    make_request: RequestFactory,
    on_window: Callable[[str], None] | None = None,
) -> ClosedLoopResult:
    """``concurrency`` senders back to back for ``warmup + seconds``; only the last ``seconds`` are counted.

    ``on_window("start")`` and ``on_window("end")`` are called at the window's edges (server CPU sampling).
    """
    sent: list[Sent] = []
    counter = iter(range(10**12))
    start = time.monotonic()
    window_start, window_end = start + warmup, start + warmup + seconds
    cpu_marks: dict[str, float] = {}

    async def sender() -> None:
        while time.monotonic() < window_end:
            data, alerts = make_request(next(counter))
            started = time.monotonic()
            status, retry_after, detail = await _send(pool, data, drop_when_busy=False)
            sent.append(Sent(started, started, time.monotonic(), status, retry_after, alerts, detail))
            if status == TRANSPORT_ERROR:
                await asyncio.sleep(0.01)

    async def cpu_window() -> None:
        await asyncio.sleep(warmup)
        cpu_marks["start"] = client_cpu_seconds()
        if on_window is not None:
            on_window("start")
        await asyncio.sleep(seconds)
        cpu_marks["end"] = client_cpu_seconds()
        if on_window is not None:
            on_window("end")

    await asyncio.gather(cpu_window(), *(sender() for _ in range(concurrency)))
    return ClosedLoopResult(sent, window_start, window_end, cpu_marks["end"] - cpu_marks["start"])
