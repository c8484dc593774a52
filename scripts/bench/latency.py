"""One open-loop latency run: offer a rate of new alerts, wait for their notifications, summarise.

End-to-end latency of an alert = its notification's arrival at the receiver minus the instant its request was
scheduled to start (equal to the actual start while the generator keeps up; the generator's own lag is
reported beside it).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from .context import BenchContext
from .httpclient import Pool
from .load import RequestFactory, Sent, open_loop, status_counts
from .receiver_log import ReceiverLog
from .results import LatencyRun
from .stats import percentile, summarise_ms


def accepted_schedule(sent: list[Sent]) -> dict[str, float]:
    """bench_id -> scheduled send instant, for alerts whose request was answered 2xx."""
    return {alert.bench_id: s.scheduled for s in sent if s.accepted for alert in s.alerts}


async def drain(log: ReceiverLog, expected: set[str] | dict[str, float], deadline: float) -> bool:
    """Poll the receiver until every expected alert has a notification, or the deadline passes."""
    while True:
        await log.refresh()
        if log.delivered(expected) >= len(expected):
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.5)


def _generator_lag_p99_ms(sent: list[Sent]) -> float | None:
    lags = sorted(max(0.0, s.started - s.scheduled) for s in sent)
    return percentile(lags, 99) * 1000 if lags else None


Settle = Callable[[], Awaitable[int]]


def notifications_settled(ctx: BenchContext, log: ReceiverLog, expected: dict[str, float]) -> Settle:
    """Wait (up to settle_deadline) for the notifications of earlier runs; returns how many are still missing."""

    async def settle() -> int:
        await drain(log, expected, time.monotonic() + ctx.plan.settle_deadline)
        return len(expected) - log.delivered(expected)

    return settle


def _keep_timeline(
    path: Path, schedule: dict[str, float], arrivals: dict[str, float], decided: dict[str, float]
) -> None:
    """Each alert's send instant (seconds into the run), latency and, for alertrouter, the part until the router's
    decision, beside the logs: when did the tail happen, and on which side of the router?"""
    start = min(schedule.values(), default=0.0)
    rows = sorted(
        (
            schedule[b] - start,
            (arrivals[b] - schedule[b]) * 1000,
            (decided[b] - schedule[b]) * 1000 if b in decided else None,
        )
        for b in arrivals
    )
    path.write_text(
        "".join(f"{sent:.3f}\t{ms:.1f}" + (f"\t{part:.1f}\n" if part is not None else "\n") for sent, ms, part in rows)
    )


async def latency_run(
    ctx: BenchContext,
    system: str,
    pool: Pool,
    log: ReceiverLog,
    rate: float,
    make: RequestFactory,
    expected: dict[str, float],
    settle: Settle,
) -> LatencyRun:
    """``settle`` waits for earlier runs' work first; ``expected`` (alerts that must notify) gets this run's."""
    plan = ctx.plan
    window = f"latency-{system}-{rate:g}"
    backlog = await settle()
    ctx.sampler.begin(window)
    sent = await open_loop(pool, rate, plan.latency_seconds, make)
    sent_until = max((s.scheduled for s in sent), default=time.monotonic())
    schedule = accepted_schedule(sent)
    expected.update(schedule)
    drained = await drain(log, schedule, time.monotonic() + plan.drain_deadline)
    arrivals = {bench_id: log.first_arrival[bench_id] for bench_id in schedule if bench_id in log.first_arrival}
    decided = {bench_id: log.decided[bench_id] for bench_id in arrivals if bench_id in log.decided}
    last_arrival = max(arrivals.values(), default=time.monotonic())
    resources, lag = ctx.sampler.end(window, len(schedule))
    _keep_timeline(ctx.workdir / f"{window}.tsv", schedule, arrivals, decided)
    run = LatencyRun(
        system=system,
        rate=rate,
        seconds=plan.latency_seconds,
        offered_alerts=sum(len(s.alerts) for s in sent),
        accepted_alerts=len(schedule),
        statuses=status_counts(sent),
        delivered_alerts=len(arrivals),
        missing_alerts=len(schedule) - len(arrivals),
        extra_notifications=sum(max(0, log.notifications[b] - 1) for b in arrivals),
        end_to_end=summarise_ms(arrivals[b] - schedule[b] for b in arrivals),
        to_decision=summarise_ms(decided[b] - schedule[b] for b in decided) if decided else None,
        decision_to_provider=summarise_ms(arrivals[b] - decided[b] for b in decided) if decided else None,
        ingest_response=summarise_ms(s.finished - s.scheduled for s in sent),
        generator_lag_p99_ms=_generator_lag_p99_ms(sent),
        drain_seconds=round(max(0.0, last_arrival - sent_until), 3),
        drained=drained,
        backlog_at_start=backlog,
        resources=resources,
        lag=lag,
        load_average=os.getloadavg(),
    )
    e2e = run.end_to_end
    print(
        f"[bench] {system} {rate:g}/s: delivered {run.delivered_alerts}/{run.accepted_alerts} "
        f"p50={e2e.p50_ms} p99={e2e.p99_ms} max={e2e.max_ms} ms drained={drained}",
        flush=True,
    )
    return run
