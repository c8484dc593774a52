"""Intake capacity (alertrouter ingest and Alertmanager's API, closed loop) and ingest's load safety.

Ingest runs alone here (router and notifier stopped), as Alertmanager's API is measured with a receiver that
sends nothing: both figures are "alerts accepted per second". The records ingest produced in these phases are
skipped before the router starts (its group's offsets are moved to the end), so they never reach the pipeline.
"""

from __future__ import annotations

import asyncio
import time

from .alertmanager import INTAKE_CONFIG, Alertmanager
from .context import BenchContext
from .httpclient import Pool, get_json_bytes
from .load import DROPPED, Sent, api_requests, closed_loop, open_loop, status_counts, webhook_requests
from .payloads import IdSource
from .results import LoadSafetyRun, ThroughputRun
from .stack import HOST, Service, StackError
from .stats import summarise_ms

SERVICE_LABEL = "bench-latency"
SHED_STATUSES = (429, 503)
READY_STREAK = 10
IN_FLIGHT_METRIC = "alertrouter_ingest_in_flight_requests"


async def _closed_loop_run(
    ctx: BenchContext, system: str, server: str, pool: Pool, batch: int, workers: int | None, api: bool
) -> ThroughputRun:
    plan = ctx.plan
    ids = IdSource(f"tp-{system}-{workers or 0}-{batch}", ctx.next_phase())
    make = (api_requests if api else webhook_requests)(pool, ids, SERVICE_LABEL, batch)
    window = f"throughput-{system}-{workers}-{batch}"

    def on_window(edge: str) -> None:
        if edge == "start":
            ctx.sampler.begin(window)

    result = await closed_loop(
        pool, plan.concurrency_for(batch), plan.throughput_warmup, plan.throughput_seconds, make, on_window
    )
    counted = result.in_window
    accepted = sum(len(s.alerts) for s in counted if s.accepted)
    resources, _ = ctx.sampler.end(window, accepted)
    server_cpu = next((r.cpu_seconds for r in resources if r.name == server), 0.0)
    run = ThroughputRun(
        system=system,
        workers=workers,
        batch=batch,
        concurrency=plan.concurrency_for(batch),
        seconds=round(result.seconds, 3),
        requests=len(counted),
        accepted_alerts=accepted,
        alerts_per_second=accepted / result.seconds,
        requests_per_second=len(counted) / result.seconds,
        statuses=status_counts(counted),
        request_latency=summarise_ms(s.finished - s.started for s in counted),
        server_cpu_cores=server_cpu / result.seconds,
        client_cpu_cores=result.client_cpu_seconds / result.seconds,
        resources=resources,
    )
    print(
        f"[bench] {system} workers={workers} batch={batch}: {run.alerts_per_second:,.0f} alerts/s "
        f"({run.requests_per_second:,.0f} req/s) statuses={run.statuses}",
        flush=True,
    )
    return run


async def _warm_broker(ctx: BenchContext, pool: Pool) -> None:
    """Discarded load: the first requests after start-up pay for the broker's JIT and empty caches."""
    ids = IdSource("broker-warmup", ctx.next_phase())
    await closed_loop(
        pool,
        ctx.plan.throughput_concurrency,
        ctx.plan.broker_warmup_seconds,
        0.0,
        webhook_requests(pool, ids, SERVICE_LABEL, 10),
    )
    ctx.broker_warm = True


async def warm_broker_alone(ctx: BenchContext) -> None:
    """The discarded load of the intake phase, through an ingest of its own, for a run without that phase
    (``--only``): a phase that met a cold broker counted its JIT compiling (about 10 CPU-s in the first minute)
    in Kafka's CPU and measured latencies on a machine that was busier than it is. The records are left for
    ``kafka_offsets.skip_alert_backlog``, as the intake phase's are."""
    ingest = ctx.service("ingest", {"INGEST_WORKERS": "1"})
    await ingest.start()
    pool = Pool(HOST, ingest.port, ctx.plan.throughput_concurrency)
    try:
        await _every_worker_ready(ingest)
        await _warm_broker(ctx, pool)
    finally:
        await pool.close()
        await ingest.stop()


async def ingest_throughput(ctx: BenchContext) -> None:
    for index, workers in enumerate(ctx.plan.worker_counts):
        ingest = ctx.service("ingest", {"INGEST_WORKERS": str(workers)})
        try:
            await ingest.start()
        except StackError as exc:
            ctx.unmeasured(f"ingest throughput, {workers} worker(s)", str(exc)[:1500])
            continue
        ctx.sampler.watch("ingest", ingest.pid)
        await _every_worker_ready(ingest)
        pool = Pool(HOST, ingest.port, ctx.plan.throughput_concurrency)
        try:
            if index == 0:
                await _warm_broker(ctx, pool)
            for batch in ctx.plan.batches:
                run = await _closed_loop_run(ctx, "alertrouter", "ingest", pool, batch, workers, api=False)
                ctx.results.throughput.append(run)
            if workers == 1:
                await load_safety(ctx, ingest)
        finally:
            await pool.close()
            await ingest.stop()
            ctx.sampler.unwatch("ingest")


async def alertmanager_throughput(ctx: BenchContext) -> None:
    manager = Alertmanager(ctx.workdir / "alertmanager-intake", INTAKE_CONFIG)
    try:
        await manager.start()
    except StackError as exc:
        ctx.unmeasured("Alertmanager throughput", str(exc)[:1500])
        return
    ctx.sampler.watch("alertmanager", manager.pid)
    pool = Pool(HOST, manager.port, ctx.plan.throughput_concurrency)
    try:
        for batch in ctx.plan.batches:
            run = await _closed_loop_run(ctx, "alertmanager", "alertmanager", pool, batch, None, api=True)
            ctx.results.throughput.append(run)
    finally:
        await pool.close()
        manager.stop()
        ctx.sampler.unwatch("alertmanager")


def _first_all_ok_ms(sent: list[Sent], since: float) -> float | None:
    """From ``since`` to the scheduled time of the first request after which every request got a 2xx."""
    ordered = sorted(sent, key=lambda s: s.scheduled)
    first_ok: float | None = None
    for item in ordered:
        if not item.accepted:
            first_ok = None
        elif first_ok is None:
            first_ok = item.scheduled
    return None if first_ok is None else max(0.0, (first_ok - since) * 1000)


async def load_safety(ctx: BenchContext, ingest: Service) -> None:
    """Open loop at overload_factor x capacity with many connections, then a normal rate: shed, then recover."""
    plan = ctx.plan
    capacity = next(
        (
            r.alerts_per_second
            for r in ctx.results.throughput
            if r.system == "alertrouter" and r.workers == 1 and r.batch == plan.overload_batch
        ),
        None,
    )
    if not capacity:
        ctx.unmeasured("load safety", f"no measured capacity at batch {plan.overload_batch} with 1 worker")
        return
    offered_rps = plan.overload_factor * capacity / plan.overload_batch
    recovery_rps = plan.recovery_factor * capacity / plan.overload_batch
    ids = IdSource("overload", ctx.next_phase())
    pool = Pool(HOST, ingest.port, plan.overload_connections, timeout=60.0)
    make = webhook_requests(pool, ids, SERVICE_LABEL, plan.overload_batch)
    rss_before = ctx.sampler.current_rss_mib("ingest")
    ctx.sampler.begin("overload")
    in_flight: list[float] = []
    watcher = asyncio.create_task(_watch_in_flight(ingest, in_flight))
    try:
        overload = await open_loop(pool, offered_rps, plan.overload_seconds, make, drop_when_busy=True)
        overload_end = time.monotonic()
        watcher.cancel()
        recovery = await open_loop(pool, recovery_rps, plan.recovery_seconds, make)
        ready = await _ready(ingest)
    finally:
        watcher.cancel()
        await pool.close()
    peak = ctx.sampler.peak_rss_mib("overload", "ingest")
    ctx.sampler.end("overload", 0)
    accepted = sum(len(s.alerts) for s in overload if s.accepted)
    shed = [s for s in overload if s.status in SHED_STATUSES]
    run = LoadSafetyRun(
        workers=1,
        batch=plan.overload_batch,
        capacity_alerts_per_second=capacity,
        overload_factor=plan.overload_factor,
        offered_requests_per_second=offered_rps,
        max_connections=plan.overload_connections,
        overload_seconds=plan.overload_seconds,
        overload_statuses=status_counts(overload),
        overload_accepted_alerts_per_second=accepted / plan.overload_seconds,
        overload_latency=summarise_ms(s.finished - s.scheduled for s in overload if s.status != DROPPED),
        client_dropped=sum(1 for s in overload if s.status == DROPPED),
        shed_with_retry_after=sum(1 for s in shed if s.retry_after),
        recovery_rate_rps=recovery_rps,
        recovery_seconds=plan.recovery_seconds,
        recovery_statuses=status_counts(recovery),
        recovery_latency=summarise_ms(s.finished - s.scheduled for s in recovery),
        all_ok_after_ms=_first_all_ok_ms(recovery, overload_end),
        ready_after=ready,
        peak_rss_mib=round(peak, 1),
        max_in_flight_seen=int(max(in_flight)) if in_flight else None,
        rss_before_mib=round(rss_before, 1),
        rss_after_mib=round(ctx.sampler.current_rss_mib("ingest"), 1),
    )
    ctx.results.load_safety = run
    print(f"[bench] overload x{plan.overload_factor}: {run.overload_statuses}; recovery {run.recovery_statuses}")


async def _watch_in_flight(ingest: Service, seen: list[float]) -> None:
    """ingest's own in-flight gauge, polled through the same (overloaded) server, so samples are sparse."""
    while True:
        try:
            response = await get_json_bytes(HOST, ingest.port, "/metrics", timeout=10.0)
        except (OSError, TimeoutError):
            response = None
        if response is not None:
            for line in response.body.decode().splitlines():
                if line.startswith(IN_FLIGHT_METRIC + " "):
                    seen.append(float(line.rsplit(" ", 1)[1]))
        await asyncio.sleep(0.25)


async def _every_worker_ready(ingest: Service, timeout: float = 60.0) -> None:
    """READY_STREAK ready answers in a row on new connections: each worker has its Kafka producer started."""
    deadline = time.monotonic() + timeout
    streak = 0
    while streak < READY_STREAK and time.monotonic() < deadline:
        streak = streak + 1 if await _ready(ingest) else 0
        if streak == 0:
            await asyncio.sleep(0.2)


async def _ready(ingest: Service) -> bool:
    try:
        return (await get_json_bytes(HOST, ingest.port, "/readyz")).status == 200
    except (OSError, TimeoutError):
        return False
