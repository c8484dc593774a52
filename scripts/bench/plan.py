"""What one benchmark run does, by mode: ``full`` (the published figures) and ``quick`` (under two minutes).

Why fixed presets: the report must say exactly what was run, and two runs of one mode must be comparable.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class Plan:
    mode: str
    # ingest and Alertmanager intake capacity (closed loop)
    worker_counts: tuple[int, ...]
    batches: tuple[int, ...]
    throughput_concurrency: int  # requests in flight at 1 alert/request; see concurrency_for
    throughput_warmup: float
    broker_warmup_seconds: float  # discarded load before the first measurement (the broker's JIT, page cache)
    throughput_seconds: float
    # load safety: open loop at overload_factor x the measured capacity at overload_batch, 1 ingest worker
    overload_factor: float
    overload_batch: int
    overload_connections: int
    overload_seconds: float
    recovery_factor: float
    recovery_seconds: float
    # end to end (open loop, one new alert per request)
    e2e_ingest_workers: int
    latency_rates: tuple[float, ...]  # alertrouter, ascending (low rates find the highest one sustained)
    reference_rates: tuple[float, ...]  # Alertmanager
    latency_seconds: float
    latency_connections: int
    drain_deadline: float
    settle_deadline: float  # before a run, wait this long at most for earlier alerts' pages
    warmup_deadline: float
    # alert storm for one grouped service
    storm_alerts: int
    storm_seconds: float
    storm_batch: int
    # the router alone: alerts topic → pages topic, new alerts then duplicates
    router_rates: tuple[float, ...]
    router_seconds: float
    # hot-path profile (py-spy) at a fixed rate, separate from the latency runs
    profile_rate: float
    profile_seconds: float
    all_rates: bool = False  # run every latency rate even after the pipeline fell behind at a lower one

    def describe(self) -> dict[str, object]:
        return asdict(self)

    def concurrency_for(self, batch: int) -> int:
        """Fewer requests in flight for bigger batches: enough to saturate the server without only adding
        queueing (64 x 100 alerts in flight would make every answer wait seconds)."""
        return max(4, round(self.throughput_concurrency / math.sqrt(batch)))


FULL = Plan(
    mode="full",
    worker_counts=(1, 2),
    batches=(1, 10, 100),
    throughput_concurrency=64,
    throughput_warmup=2.0,
    broker_warmup_seconds=10.0,
    throughput_seconds=15.0,
    overload_factor=4.0,
    overload_batch=10,
    overload_connections=1024,
    overload_seconds=30.0,
    recovery_factor=0.5,
    recovery_seconds=15.0,
    e2e_ingest_workers=1,
    latency_rates=(25.0, 50.0, 100.0, 250.0, 500.0, 1000.0),
    reference_rates=(100.0, 500.0, 1000.0),
    latency_seconds=60.0,
    latency_connections=256,
    drain_deadline=120.0,
    settle_deadline=120.0,
    warmup_deadline=90.0,
    storm_alerts=10_000,
    storm_seconds=10.0,
    storm_batch=10,
    router_rates=(200.0, 500.0),
    router_seconds=30.0,
    profile_rate=500.0,
    profile_seconds=20.0,
)

QUICK = Plan(
    mode="quick",
    worker_counts=(1, 2),
    batches=(1, 10, 100),
    throughput_concurrency=64,
    throughput_warmup=0.5,
    broker_warmup_seconds=2.0,
    throughput_seconds=1.5,
    overload_factor=4.0,
    overload_batch=10,
    overload_connections=1024,
    overload_seconds=3.0,
    recovery_factor=0.5,
    recovery_seconds=2.0,
    e2e_ingest_workers=1,
    latency_rates=(100.0, 500.0),
    reference_rates=(100.0, 500.0),
    latency_seconds=3.0,
    latency_connections=256,
    drain_deadline=5.0,
    settle_deadline=3.0,
    warmup_deadline=20.0,
    storm_alerts=1_000,
    storm_seconds=1.0,
    storm_batch=10,
    router_rates=(500.0,),
    router_seconds=4.0,
    profile_rate=300.0,
    profile_seconds=3.0,
)

PLANS = {"full": FULL, "quick": QUICK}


def plan_for(
    mode: str, rates: tuple[float, ...] | None = None, latency_seconds: float | None = None, all_rates: bool = False
) -> Plan:
    plan = replace(PLANS[mode], all_rates=all_rates)
    if rates:
        plan = replace(plan, latency_rates=rates, reference_rates=rates, router_rates=rates)
    if latency_seconds:
        plan = replace(plan, latency_seconds=latency_seconds)
    return plan
