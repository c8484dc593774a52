"""The benchmark harness's pure parts: percentile math, payloads, profile summaries and report rendering.

No timing is asserted here (benchmarks are never timed tests); these check that the arithmetic and the rendered
report are right for known inputs.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from alertrouter_ingest.sources.alertmanager import parse_webhook
from scripts.bench import receiver
from scripts.bench.payloads import (
    IdSource,
    alertmanager_api_alerts,
    alertmanager_webhook,
    bench_ids_in_notification,
)
from scripts.bench.procstats import parse_lag
from scripts.bench.profiling import summarise
from scripts.bench.report import render
from scripts.bench.results import (
    BenchResults,
    Environment,
    LatencyRun,
    LatencySummary,
    ProcessUsage,
    StormRun,
    ThroughputRun,
)
from scripts.bench.stats import per_thousand, percentile, summarise_ms
from scripts.bench.summary import fell_behind, highest_sustained, targets


def test_nearest_rank_percentiles_are_observed_samples() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 95) == 4.0
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile(values, 0)


def test_summary_is_in_milliseconds_and_empty_input_has_no_figures() -> None:
    summary = summarise_ms([0.003, 0.001, 0.002, 0.010])
    assert summary.count == 4
    assert summary.p50_ms == pytest.approx(2.0)
    assert summary.p99_ms == pytest.approx(10.0)
    assert summary.max_ms == pytest.approx(10.0)
    assert summary.mean_ms == pytest.approx(4.0)
    assert summarise_ms([]) == LatencySummary(count=0)
    assert per_thousand(2.5, 500) == pytest.approx(5.0)
    assert per_thousand(2.5, 0) is None


def test_generated_webhook_is_accepted_by_ingest_parser_and_alerts_are_distinct() -> None:
    ids = IdSource("t", 7)
    alerts = ids.take(3)
    webhook = parse_webhook(alertmanager_webhook(alerts, "bench-latency"))
    assert [a.fingerprint for a in webhook.alerts] == ["0007000000000000", "0007000000000001", "0007000000000002"]
    assert {a.labels["bench_id"] for a in webhook.alerts} == {"t-0", "t-1", "t-2"}
    assert ids.take(1)[0].bench_id == "t-3"
    api_body = json.loads(alertmanager_api_alerts(alerts, "bench-storm"))
    assert [a["labels"]["bench_id"] for a in api_body] == ["t-0", "t-1", "t-2"]
    assert all(a["labels"]["service"] == "bench-storm" for a in api_body)


def test_notifications_map_back_to_bench_ids() -> None:
    page = {"page": {"kind": "trigger", "labels": {"bench_id": "lat500-9"}, "page_id": "p1"}}
    assert bench_ids_in_notification(page) == ("trigger", ["lat500-9"])
    alertmanager = {"status": "firing", "alerts": [{"labels": {"bench_id": "am-1"}}, {"labels": {"x": "y"}}]}
    assert bench_ids_in_notification(alertmanager) == ("firing", ["am-1"])
    assert bench_ids_in_notification(["not", "a", "dict"]) == ("unknown", [])


def test_consumer_lag_is_summed_per_group() -> None:
    text = "\n".join(
        [
            "# TYPE alertrouter_consumer_lag_records gauge",
            'alertrouter_consumer_lag_records{group="router",partition="0",topic="a"} 3.0',
            'alertrouter_consumer_lag_records{group="router",partition="1",topic="a"} 4.0',
            'alertrouter_consumer_lag_records{group="notifier",partition="0",topic="p"} 0.0',
            'alertrouter_consumer_batches_total{group="router"} 9.0',
        ]
    )
    assert parse_lag(text) == {"router": 7, "notifier": 0}


def test_profile_summary_leaves_out_idle_waits_and_the_event_loop() -> None:
    handler = "run (asyncio/runners.py:1);main (alertrouter_router/__main__.py:9);"
    handler += "_process (alertrouter_router/pipeline.py:80)"
    collapsed = "\n".join(
        [
            f"{handler};execute (sqlalchemy/engine.py:1) 6",
            f"{handler};dumps (json/__init__.py:231) 3",
            "run (asyncio/runners.py:1);send (aiokafka/producer.py:7) 1",
            "run (asyncio/runners.py:1);EpollSelector.select (selectors.py:454) 10",
        ]
    )
    profile = summarise(collapsed, "router", seconds=0.2, rate=100, tool="py-spy")
    assert (profile.samples, profile.idle_samples) == (10, 10)
    assert profile.busy_fraction == pytest.approx(0.5)
    assert profile.by_package_self[0].name == "sqlalchemy" and profile.by_package_self[0].percent == 60.0
    inclusive = {share.name: share.percent for share in profile.by_package_inclusive}
    assert inclusive == {"sqlalchemy": 60.0, "json": 30.0, "aiokafka": 10.0, "alertrouter_router": 90.0}
    assert [(s.name, s.percent) for s in profile.top_inclusive] == [("_process (alertrouter_router/pipeline.py)", 90.0)]
    assert profile.top_self[0].name == "execute (sqlalchemy/engine.py)"


def _results() -> BenchResults:
    environment = Environment(
        mode="quick",
        started_at="2026-01-01T00:00:00+00:00",
        cpu_model="Test CPU",
        cores=2,
        memory_gib=24.0,
        kernel="6.1",
        python="3.11.7",
        kafka="Apache Kafka 4.1.1",
        postgres="postgres (PostgreSQL) 15",
        alertmanager="alertmanager, version 0.25.0",
        java="openjdk 17",
        git_commit="abc123",
        git_dirty_files=0,
        libraries={"aiokafka": "0.14.0"},
        load_average_start=(1.0, 1.0, 1.0),
        command="uv run python -m scripts.bench quick",
    )
    latency = LatencySummary(count=1000, p50_ms=5.0, p95_ms=20.0, p99_ms=42.5, max_ms=80.0, mean_ms=7.0)

    def intake(system: str, batch: int, per_second: float, workers: int | None) -> ThroughputRun:
        return ThroughputRun(
            system=system,
            workers=workers,
            batch=batch,
            concurrency=64,
            seconds=10.0,
            requests=100,
            accepted_alerts=int(per_second * 10),
            alerts_per_second=per_second,
            requests_per_second=per_second / batch,
            statuses={"202": 100},
            request_latency=latency,
            server_cpu_cores=0.9,
            client_cpu_cores=0.2,
        )

    def run(system: str, rate: float, p99: float, missing: int = 0, notifier_cpu: float = 0.0) -> LatencyRun:
        notifier = ProcessUsage(name="notifier", cpu_seconds=notifier_cpu, peak_rss_mib=100.0, processes=1)
        return LatencyRun(
            system=system,
            rate=rate,
            seconds=60,
            offered_alerts=1000,
            accepted_alerts=1000,
            statuses={"202": 1000},
            delivered_alerts=1000 - missing,
            missing_alerts=missing,
            extra_notifications=0,
            end_to_end=latency.model_copy(update={"p99_ms": p99}),
            ingest_response=latency,
            generator_lag_p99_ms=0.1,
            drain_seconds=0.5,
            drained=missing == 0,
            resources=[notifier] if notifier_cpu else [],
        )

    return BenchResults(
        environment=environment,
        throughput=[
            intake("alertrouter", 100, 40_000.0, 1),
            intake("alertrouter", 1, 4_000.0, 1),
            intake("alertmanager", 100, 32_000.0, None),
            intake("alertmanager", 1, 10_000.0, None),
        ],
        latency=[
            run("alertrouter", 100, 12.0),
            run("alertrouter", 500, 42.5, notifier_cpu=0.9),
            run("alertrouter", 1000, 900, 3),
        ],
        storm=StormRun(
            alerts=10_000,
            seconds=10,
            batch=10,
            service="bench-storm",
            grouping_window_seconds=60,
            accepted_alerts=10_000,
            statuses={"202": 1000},
            pages=1,
            pages_by_contact_method={"/hooks/x": 1},
            incidents=1,
            first_page_seconds=0.25,
            settled=True,
        ),
        unmeasured={"hot-path profile": "py-spy is not installed"},
    )


def test_targets_compare_against_the_reference_in_the_same_run() -> None:
    rows = {row[0]: row[1:] for row in targets(_results())}
    equal = rows["ingest alerts/s at least equal to Alertmanager's at 100/request (1 worker(s))"]
    assert equal == ["40,000 vs 32,000 (ratio 1.25)", "yes"]
    half = rows["ingest alerts/s at least half of Alertmanager's at 1/request (1 worker(s))"]
    assert half == ["4,000 vs 10,000 (ratio 0.40)", "no"]
    assert rows["webhook → provider p99 ≤ 50 ms at 500 new alerts/s"] == ["p99 42.5 ms", "yes"]
    assert rows["notifier CPU ≤ 1 ms per delivery at 500 new alerts/s"] == ["0.90 ms", "yes"]  # 0.9 s, 1,000 sent
    assert rows["storm: first page within 1 s"] == ["0.250 s", "yes"]
    assert highest_sustained(_results(), "alertrouter") == 500.0  # 1000/s left 3 alerts without a page
    assert highest_sustained(_results(), "alertrouter", 40.0) == 100.0  # 500/s: p99 42.5 ms
    run = _results().latency[0]
    assert not fell_behind(run)
    assert fell_behind(run.model_copy(update={"drain_seconds": 31.0}))  # over half of the 60 s run
    assert fell_behind(run.model_copy(update={"drained": False}))


def test_report_renders_every_section_from_the_results() -> None:
    text = render(_results())
    for heading in (
        "# Benchmarks",
        "## Targets (DESIGN.md) against this run",
        "## Analysis",
        "## Not measured in this run",
        "## Intake throughput (closed loop)",
        "## End-to-end latency (open loop, one new alert per request)",
        "## Alert storm",
        "## Machine and versions",
        "## How it was run",
    ):
        assert heading in text
    assert "| alertrouter | 1 | 100 | 64 | 40,000 |" in text
    assert "| 1 | 100 | 40,000 | 32,000 | 1.25 |" in text
    assert "**hot-path profile**: py-spy is not installed" in text
    assert "At 1,000 new alerts/s the pipeline did not keep up: 3 of 1,000 accepted alerts had no page" in text
    assert "uv run python -m scripts.bench quick" in text


def test_the_analysis_says_how_many_cores_each_rate_kept_busy() -> None:
    results = _results()
    busy = [
        ProcessUsage(name="router", cpu_seconds=48.4, peak_rss_mib=100.0, processes=1),
        ProcessUsage(name="bench client", cpu_seconds=12.1, peak_rss_mib=100.0, processes=1),
    ]
    results.latency[0] = results.latency[0].model_copy(update={"resources": busy})  # 100/s: 60.5 s / 60.5 s
    text = render(results)
    # every process counts, the load generator too; the wall time includes the drain (60 s + 0.5 s)
    assert "of 2: 1.00 at 100/s, 0.01 at 500/s." in text


def test_the_receiver_places_the_routers_decision_on_the_monotonic_clock() -> None:
    """The page's created_at (wall clock) becomes an instant comparable with the arrival (monotonic)."""
    decided_at = datetime.now(UTC) - timedelta(milliseconds=40)
    page = {"page": {"page_id": "p1", "labels": {"bench_id": "b-1"}, "created_at": decided_at.isoformat()}}
    receiver.RECORDS.clear()
    arrived = time.monotonic()
    assert receiver.record_notification(arrived, "/hook", json.dumps(page).encode()) == 1
    assert receiver.record_notification(arrived, "/am", json.dumps({"alerts": []}).encode()) == 0
    [(when, _kind, bench_id, _path, page_id, decided)] = receiver.RECORDS
    assert (when, bench_id, page_id) == (arrived, "b-1", "p1")
    assert decided is not None and 0.035 < arrived - decided < 0.5
    receiver.RECORDS.clear()
