"""End to end: webhook → ingest → Kafka → router (PostgreSQL) → Kafka → notifier → the receiver.

Phases, with the three services running as processes: a warm-up, the alert storm (first, on an idle pipeline),
one open-loop latency run per rate in ascending order (higher rates are skipped once one fell behind), the
hot-path profile; then, with the services stopped, Alertmanager's webhook-in → webhook-out latency at the same
rates.
"""

from __future__ import annotations

import asyncio
import time

import orjson

from alertrouter_shared.topics import ALERTS_DLQ

from .alertmanager import WEBHOOK_CONFIG, Alertmanager
from .context import BenchContext
from .httpclient import Pool
from .kafka_state import committed_lag, topic_records
from .latency import Settle, accepted_schedule, drain, latency_run, notifications_settled
from .load import api_requests, open_loop, status_counts, webhook_requests
from .payloads import IdSource
from .phases_ingest import warm_broker_alone
from .profiling import profile_services
from .receiver_log import ReceiverLog
from .results import StormRun
from .stack import HOST, TOKEN, Service, StackError, kafka_offsets
from .summary import fell_behind

LATENCY_SERVICE = "bench-latency"
STORM_SERVICE = "bench-storm"
STORM_GROUPING_SECONDS = 60  # as in scripts/bench/ownership/bench.yaml
WARMUP_RATE = 20.0
WARMUP_SECONDS = 2.0


async def _start_services(ctx: BenchContext) -> list[Service] | None:
    workers = str(ctx.plan.e2e_ingest_workers)
    services = [ctx.service("router"), ctx.service("notifier"), ctx.service("ingest", {"INGEST_WORKERS": workers})]
    outcomes = await asyncio.gather(*(service.start() for service in services), return_exceptions=True)
    failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    if failures:
        for service in services:
            await service.stop()
        why = "; ".join(f"{type(f).__name__}: {str(f)[:1500]}" for f in failures)
        for phase in ("end-to-end latency", "alert storm", "hot-path profile"):
            ctx.unmeasured(phase, f"the stack did not start: {why}")
        return None
    for service in services:
        ctx.sampler.watch(service.name, service.pid)
    ctx.sampler.lag_endpoints = {s.name: (HOST, s.port) for s in services if s.name in ("router", "notifier")}
    return services


async def _warm_up(ctx: BenchContext, pool: Pool, log: ReceiverLog) -> bool:
    """A few alerts end to end, so connection pools, caches and the JIT of the broker are warm."""
    ids = IdSource("warmup", ctx.next_phase())
    sent = await open_loop(pool, WARMUP_RATE, WARMUP_SECONDS, webhook_requests(pool, ids, LATENCY_SERVICE))
    schedule = accepted_schedule(sent)
    ctx.expected_pages.update(schedule)
    if not schedule:
        ctx.unmeasured("end-to-end latency", f"ingest accepted none of the warm-up alerts: {status_counts(sent)}")
        return False
    deadline = ctx.plan.warmup_deadline
    if not await drain(log, schedule, time.monotonic() + deadline):
        got = log.delivered(schedule)
        ctx.unmeasured(
            "end-to-end latency", f"only {got} of {len(schedule)} warm-up alerts were paged within {deadline:.0f} s"
        )
        return False
    return True


async def end_to_end(ctx: BenchContext) -> None:
    if not ctx.broker_warm:
        await warm_broker_alone(ctx)
    skipped = await kafka_offsets.skip_alert_backlog(ctx.infra.kafka.bootstrap_servers)
    print(f"[bench] skipped {skipped} intake-phase records for the router", flush=True)
    services = await _start_services(ctx)
    if services is None:
        return
    ingest = next(s for s in services if s.name == "ingest")
    router = next(s for s in services if s.name == "router")
    log = ReceiverLog(ctx.infra.receiver_port)
    pool = Pool(HOST, ingest.port, ctx.plan.latency_connections)
    try:
        await _measure(ctx, services, pool, log, router)
        ctx.results.dead_letters = await topic_records(ctx.infra.kafka.bootstrap_servers)
    except OSError:
        _check_alive(services)  # a service that died explains the refused connection better
        raise
    finally:
        await pool.close()
        for service in services:
            await service.stop()
            ctx.sampler.unwatch(service.name)
        ctx.sampler.lag_endpoints = {}


async def _measure(ctx: BenchContext, services: list[Service], pool: Pool, log: ReceiverLog, router: Service) -> None:
    if not await _warm_up(ctx, pool, log):
        return
    ctx.results.storm = await storm(ctx, pool, log, router)
    _check_alive(services)
    settle = _pipeline_settled(ctx, log)
    behind: float | None = None
    for rate in ctx.plan.latency_rates:
        if behind is not None and not ctx.plan.all_rates:
            ctx.unmeasured(
                f"end-to-end latency at {rate:g} alerts/s",
                f"not run: the pipeline already fell behind at {behind:g} alerts/s (a higher rate only adds backlog "
                "to the runs after it; --all-rates runs it anyway)",
            )
            continue
        make = webhook_requests(pool, IdSource(f"lat{rate:g}", ctx.next_phase()), LATENCY_SERVICE)
        run = await latency_run(ctx, "alertrouter", pool, log, rate, make, ctx.expected_pages, settle)
        _check_alive(services)
        ctx.results.latency.append(run)
        if fell_behind(run):
            behind = rate
    make = webhook_requests(pool, IdSource("profile", ctx.next_phase()), LATENCY_SERVICE)
    await profile_services(ctx, pool, make, services)


def _check_alive(services: list[Service]) -> None:
    for service in services:
        service.check_alive()


async def _incidents(router: Service, service: str) -> int | None:
    pool = Pool(HOST, router.port, 1)
    try:
        request = pool.prepare(
            "GET", f"/v1/incidents?service={service}&limit=500", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        response = await pool.request(request)
    finally:
        await pool.close()
    if response.status != 200:
        return None
    return len(orjson.loads(response.body)["items"])


async def storm(ctx: BenchContext, pool: Pool, log: ReceiverLog, router: Service) -> StormRun:
    """storm_alerts new alerts for one grouped service within storm_seconds: how many pages, first page when."""
    plan = ctx.plan
    bootstrap = ctx.infra.kafka.bootstrap_servers
    ids = IdSource("storm", ctx.next_phase())
    backlog = await _pipeline_settled(ctx, log)()
    dead_before = (await topic_records(bootstrap, (ALERTS_DLQ,)))[ALERTS_DLQ]
    requests_per_second = plan.storm_alerts / plan.storm_batch / plan.storm_seconds
    ctx.sampler.begin("storm")
    sent = await open_loop(
        pool, requests_per_second, plan.storm_seconds, webhook_requests(pool, ids, STORM_SERVICE, plan.storm_batch)
    )
    schedule = accepted_schedule(sent)
    settled = await _quiet_and_committed(ctx, log, time.monotonic() + plan.drain_deadline)
    resources, lag = ctx.sampler.end("storm", len(schedule))
    storm_ids = [b for b in schedule if b in log.first_arrival]
    by_path: dict[str, int] = {}
    for bench_id in storm_ids:
        for path, count in log.by_path[bench_id].items():
            by_path[path] = by_path.get(path, 0) + count
    start = min((s.scheduled for s in sent), default=0.0)
    first = min((log.first_arrival[b] for b in storm_ids), default=None)
    run = StormRun(
        alerts=plan.storm_alerts,
        seconds=plan.storm_seconds,
        batch=plan.storm_batch,
        service=STORM_SERVICE,
        grouping_window_seconds=STORM_GROUPING_SECONDS,
        accepted_alerts=len(schedule),
        statuses=status_counts(sent),
        pages=sum(log.notifications[b] for b in storm_ids),
        pages_by_contact_method=by_path,
        incidents=await _incidents(router, STORM_SERVICE),
        first_page_seconds=None if first is None else first - start,
        settled=settled,
        dead_lettered=(await topic_records(bootstrap, (ALERTS_DLQ,)))[ALERTS_DLQ] - dead_before,
        backlog_at_start=backlog,
        resources=resources,
        lag=lag,
    )
    print(f"[bench] storm: {run.pages} page(s), {run.incidents} incident(s), first after {run.first_page_seconds}")
    return run


def _pipeline_settled(ctx: BenchContext, log: ReceiverLog) -> Settle:
    """Wait (up to settle_deadline) until the router has committed every alert record (decided or dead-lettered)
    and every expected page arrived; returns the larger of the two shortfalls."""

    async def settle() -> int:
        deadline = time.monotonic() + ctx.plan.settle_deadline
        while True:
            await log.refresh()
            uncommitted = await committed_lag(ctx.infra.kafka.bootstrap_servers)
            unpaged = len(ctx.expected_pages) - log.delivered(ctx.expected_pages)
            if (uncommitted == 0 and unpaged == 0) or time.monotonic() > deadline:
                return max(uncommitted, unpaged)
            await asyncio.sleep(1.0)

    return settle


async def _quiet_and_committed(ctx: BenchContext, log: ReceiverLog, deadline: float) -> bool:
    """Until the router has committed every alert record and no notification arrived for 3 s."""
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        if await log.refresh():
            quiet_since = time.monotonic()
        done = await committed_lag(ctx.infra.kafka.bootstrap_servers) == 0
        if done and time.monotonic() - quiet_since >= 3.0:
            return True
        await asyncio.sleep(1.0)
    return False


async def alertmanager_latency(ctx: BenchContext) -> None:
    receiver = f"{HOST}:{ctx.infra.receiver_port}"
    manager = Alertmanager(ctx.workdir / "alertmanager-webhook", WEBHOOK_CONFIG.replace("{receiver}", receiver))
    try:
        await manager.start()
    except StackError as exc:
        ctx.unmeasured("Alertmanager latency", str(exc)[:1500])
        return
    ctx.sampler.watch("alertmanager", manager.pid)
    log = ReceiverLog(ctx.infra.receiver_port)
    await log.refresh()
    pool = Pool(HOST, manager.port, ctx.plan.latency_connections)
    expected: dict[str, float] = {}
    try:
        for rate in ctx.plan.reference_rates:
            make = api_requests(pool, IdSource(f"am{rate:g}", ctx.next_phase()), LATENCY_SERVICE)
            settle = notifications_settled(ctx, log, expected)
            ctx.results.latency.append(await latency_run(ctx, "alertmanager", pool, log, rate, make, expected, settle))
    finally:
        await pool.close()
        manager.stop()
        ctx.sampler.unwatch("alertmanager")
