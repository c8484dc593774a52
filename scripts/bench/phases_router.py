"""The router alone: alert events produced straight to the alerts topic, pages read from the pages topic.

Ingest and the notifier run beside it, both idle: the notifier reads a pages topic of its own here, so the tens
of thousands of pages this phase writes are not left queued for the end-to-end phase after it. For each rate:
``rate * seconds`` new alerts (one incident and one first page each), then the same alerts again (duplicates: no
page). Latency is the page record's timestamp (the router's produce time) minus the alert's send time, both taken
on this machine's clock; CPU is the router process tree's, over the window from the first send to the router
having committed every record.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from alertrouter_shared.events import AlertAction, AlertEvent, AlertSource, Page
from alertrouter_shared.topics import ALERTS, PAGES

from .context import BenchContext
from .kafka_state import committed_lag
from .phases_ingest import warm_broker_alone
from .results import RouterRun
from .stack import kafka_offsets
from .stats import per_thousand, summarise_ms

SERVICE = "bench-latency"


def _event(key: str, action: AlertAction = AlertAction.TRIGGER) -> bytes:
    now = datetime.now(UTC)
    return (
        AlertEvent(
            source=AlertSource.ALERTMANAGER,
            integration_id="bench",
            action=action,
            dedup_key=key,
            summary=f"router bench {key}",
            labels={"service": SERVICE, "alertname": "RouterBench", "instance": key},
            occurred_at=now,
            received_at=now,
        )
        .model_dump_json()
        .encode()
    )


async def _produce(producer: AIOKafkaProducer, keys: list[str], rate: float) -> dict[str, float]:
    """Open loop: every 10 ms the alerts due by then are sent (not awaited one by one); returns send times."""
    sent: dict[str, float] = {}
    start = time.monotonic()
    futures = []
    for index, key in enumerate(keys):
        due = start + index / rate
        delay = due - time.monotonic()
        if delay > 0.01:
            await asyncio.sleep(delay)
        sent[key] = time.time()
        futures.append(await producer.send(ALERTS, _event(key), key=key.encode()))
    await asyncio.gather(*futures)
    return sent


async def _first_pages(consumer: AIOKafkaConsumer, wanted: set[str], deadline: float) -> dict[str, float]:
    """The Kafka timestamp (s) of the first page of each wanted dedup key, read until all came or the deadline."""
    first: dict[str, float] = {}
    while len(first) < len(wanted) and time.monotonic() < deadline:
        batches = await consumer.getmany(timeout_ms=200, max_records=5000)
        for records in batches.values():
            for record in records:
                page = Page.model_validate_json(record.value or b"")
                if page.dedup_key in wanted and page.dedup_key not in first:
                    first[page.dedup_key] = record.timestamp / 1000
    return first


async def _committed(ctx: BenchContext, deadline: float) -> bool:
    while time.monotonic() < deadline:
        if await committed_lag(ctx.infra.kafka.bootstrap_servers) == 0:
            return True
        await asyncio.sleep(0.2)
    return False


async def _run(
    ctx: BenchContext, producer: AIOKafkaProducer, consumer: AIOKafkaConsumer, rate: float, kind: str, keys: list[str]
) -> RouterRun:
    window = f"router {kind} {rate:g}"
    ctx.sampler.begin(window)
    started = time.monotonic()
    sent = await _produce(producer, keys, rate)
    deadline = time.monotonic() + ctx.plan.drain_deadline
    pages = await _first_pages(consumer, set(keys), deadline) if kind == "new" else {}
    drained = await _committed(ctx, deadline)
    resources, lag = ctx.sampler.end(window, len(keys))
    router = next((r for r in resources if r.name == "router"), None)
    latencies = [max(0.0, pages[k] - sent[k]) for k in keys if k in pages]
    return RouterRun(
        kind=kind,
        rate=rate,
        alerts=len(keys),
        seconds=round(time.monotonic() - started, 1),
        paged_alerts=len(pages),
        alerts_to_pages=summarise_ms(latencies),
        drained=drained and (kind != "new" or len(pages) == len(keys)),
        router_cpu_ms_per_alert=per_thousand(router.cpu_seconds, len(keys)) if router else None,
        resources=resources,
        lag=lag,
    )


async def router_alone(ctx: BenchContext) -> None:
    if not ctx.broker_warm:
        await warm_broker_alone(ctx)
    bootstrap = ctx.infra.kafka.bootstrap_servers
    skipped = await kafka_offsets.skip_alert_backlog(bootstrap)  # the intake phases' records are not this phase's load
    print(f"[bench] skipped {skipped} intake-phase records for the router", flush=True)
    idle_notifier = {"NOTIFIER_PAGES_TOPIC": "alertrouter.bench.idle-pages"}
    services = [ctx.service("router"), ctx.service("notifier", idle_notifier), ctx.service("ingest")]
    for service in services:
        await service.start()
        ctx.sampler.watch(service.name, service.pid)
    # As ingest produces (linger 0): a linger here would add its wait to every alert before it is on the topic.
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0, acks="all")
    consumer = AIOKafkaConsumer(PAGES, bootstrap_servers=bootstrap, auto_offset_reset="latest", group_id=None)
    await producer.start()
    await consumer.start()
    try:
        await consumer.seek_to_end()
        await _run(ctx, producer, consumer, 50, "new", [f"warm-{uuid.uuid4().hex}" for _ in range(100)])
        for rate in ctx.plan.router_rates:
            keys = [f"rb-{uuid.uuid4().hex}" for _ in range(int(rate * ctx.plan.router_seconds))]
            ctx.results.router.append(await _run(ctx, producer, consumer, rate, "new", keys))
            ctx.results.router.append(await _run(ctx, producer, consumer, rate, "duplicate", keys))
            for service in services:
                service.check_alive()
    finally:
        await consumer.stop()
        await producer.stop()
        for service in services:
            await service.stop()
            ctx.sampler.unwatch(service.name)
