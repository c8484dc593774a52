"""docs/benchmarks.md from the measured results: every figure and every analytic sentence comes from the JSON.

Why generated: the report must never carry a number someone typed. Re-render without re-running:
``uv run python -m scripts.bench render``.
"""

from __future__ import annotations

from .markdown import fmt, statuses, table
from .report_details import failures, load_safety, profiles, resources
from .results import BenchResults, ThroughputRun
from .stats import ratio
from .summary import analysis, targets


def _environment(results: BenchResults) -> list[str]:
    env = results.environment
    load_end = env.load_average_end
    rows = [
        ("mode", env.mode),
        ("started / finished (UTC)", f"{env.started_at} / {env.finished_at} ({fmt(env.wall_seconds, 0)} s)"),
        ("CPU", f"{env.cpu_model}, {env.cores} cores"),
        ("memory", f"{fmt(env.memory_gib)} GiB"),
        ("load average (1/5/15 min) at start", " / ".join(fmt(x, 2) for x in env.load_average_start)),
        ("load average at end", " / ".join(fmt(x, 2) for x in load_end) if load_end else "n/a"),
        ("kernel", env.kernel),
        ("Python", env.python),
        ("Kafka", env.kafka),
        ("PostgreSQL", env.postgres),
        ("Alertmanager", env.alertmanager),
        ("Java", env.java),
        ("git commit", f"`{env.git_commit}` ({env.git_dirty_files} files differ from it in the working tree)"),
        ("libraries", ", ".join(f"{k} {v}" for k, v in env.libraries.items())),
    ]
    return ["## Machine and versions", "", *table(["", ""], ([k, v] for k, v in rows)), ""]


def _how(results: BenchResults) -> list[str]:
    env = results.environment
    lines = [
        "## How it was run",
        "",
        "```",
        env.command,
        "```",
        "",
        "`make bench` runs the full mode (this file), `make bench-quick` a short one for development (written to",
        "`.run/bench/`). Needs a JDK 17+ and Maven (the Kafka jars, `scripts/local_kafka.py`), the PostgreSQL server",
        "binaries, `prometheus-alertmanager` (Debian package) and py-spy (from the environment, else `uvx py-spy`).",
        "Each run starts its own broker, database and services on free loopback ports and stops them at the end.",
        "",
    ]
    if env.settings:
        lines += ["Settings given to the stack (everything else at its default):", ""]
        lines += [f"- `{k}={v}`" for k, v in env.settings.items()]
        lines.append("")
    if env.bench_config:
        lines += [
            "Ownership configuration: a copy of `examples/ownership` (webhook addresses pointed at the benchmark",
            "receiver) plus this file, `scripts/bench/ownership/bench.yaml`:",
            "",
            "```yaml",
            env.bench_config.rstrip(),
            "```",
            "",
        ]
    return lines


def _throughput(results: BenchResults) -> list[str]:
    runs = results.throughput
    if not runs:
        return []
    rows = [
        [
            run.system,
            str(run.workers) if run.workers else "-",
            str(run.batch),
            str(run.concurrency),
            fmt(run.alerts_per_second, 0),
            fmt(run.requests_per_second, 0),
            fmt(run.request_latency.p50_ms),
            fmt(run.request_latency.p99_ms),
            statuses(run.statuses),
            fmt(run.server_cpu_cores, 2),
            fmt(_cores(run, "kafka"), 2),
            fmt(run.client_cpu_cores, 2),
        ]
        for run in runs
    ]
    headers = [
        "system",
        "workers",
        "alerts/request",
        "in flight",
        "alerts/s",
        "requests/s",
        "p50 ms",
        "p99 ms",
        "answers",
        "server CPU (cores)",
        "Kafka CPU (cores)",
        "load generator CPU (cores)",
    ]
    lines = ["## Intake throughput (closed loop)", ""]
    first = runs[0]
    lines += [
        f"Requests back to back, *in flight* at a time; answers counted over {fmt(first.seconds)} s after a warm-up",
        "(and, before the first run, discarded load to warm the broker up).",
        "alertrouter: ingest alone (an answer means Kafka acknowledged every record, acks=all). Alertmanager: its",
        "`POST /api/v2/alerts` with a receiver that sends nothing. Every alert is distinct.",
        "",
        *table(headers, rows),
        "",
    ]
    lines += _ratio_table(runs)
    return lines


def _cores(run: ThroughputRun, name: str) -> float | None:
    used = next((u.cpu_seconds for u in run.resources if u.name == name), None)
    return None if used is None or run.seconds <= 0 else used / run.seconds


def _ratio_table(runs: list[ThroughputRun]) -> list[str]:
    reference = {run.batch: run.alerts_per_second for run in runs if run.system == "alertmanager"}
    rows = [
        [
            str(run.workers),
            str(run.batch),
            fmt(run.alerts_per_second, 0),
            fmt(reference.get(run.batch), 0),
            fmt(ratio(run.alerts_per_second, reference.get(run.batch)), 2),
        ]
        for run in runs
        if run.system == "alertrouter"
    ]
    if not rows:
        return []
    headers = ["ingest workers", "alerts/request", "alertrouter alerts/s", "Alertmanager alerts/s", "ratio"]
    return ["Ratio to Alertmanager, same run, same machine:", "", *table(headers, rows), ""]


def _latency(results: BenchResults) -> list[str]:
    runs = results.latency
    if not runs:
        return []
    rows = [
        [
            run.system,
            fmt(run.rate, 0),
            fmt(run.seconds, 0),
            f"{run.accepted_alerts:,} / {run.offered_alerts:,}",
            f"{run.delivered_alerts:,}",
            f"{run.missing_alerts:,}",
            f"{run.extra_notifications:,}",
            fmt(run.end_to_end.p50_ms),
            fmt(run.end_to_end.p95_ms),
            fmt(run.end_to_end.p99_ms),
            fmt(run.end_to_end.max_ms),
            fmt(run.ingest_response.p99_ms),
            fmt(run.generator_lag_p99_ms),
            fmt(run.drain_seconds, 2),
            f"{run.backlog_at_start:,}",
            " / ".join(fmt(x, 2) for x in run.load_average) if run.load_average else "n/a",
        ]
        for run in runs
    ]
    headers = [
        "system",
        "alerts/s",
        "s",
        "accepted / offered",
        "delivered",
        "missing",
        "extra",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "intake answer p99 ms",
        "generator lag p99 ms",
        "drain s",
        "backlog at start",
        "load avg after",
    ]
    return [
        "## End-to-end latency (open loop, one new alert per request)",
        "",
        "alertrouter: webhook request start → the page's arrival at the receiver (webhook contact method).",
        "Alertmanager: `POST /api/v2/alerts` start → its webhook notification's arrival (group_wait 0, one group",
        "per alert). Latency counts from the instant each request was scheduled, so generator queueing is included.",
        "*missing* = accepted but not notified before the drain deadline; *extra* = notifications beyond the first;",
        "*backlog at start* = earlier alerts the router had not decided or not yet paged when this run began",
        "(after waiting up to the settle deadline).",
        "",
        *table(headers, rows),
        "",
    ]


def _storm(results: BenchResults) -> list[str]:
    storm = results.storm
    if storm is None:
        return []
    rows = [
        [
            "alerts sent / accepted",
            f"{storm.alerts:,} / {storm.accepted_alerts:,} in {fmt(storm.seconds, 0)} s, "
            f"{storm.batch} per request ({statuses(storm.statuses)})",
        ],
        ["service", f"`{storm.service}`, grouping_window_seconds {storm.grouping_window_seconds}"],
        ["incidents", fmt(storm.incidents)],
        ["pages", f"{storm.pages:,}"],
        ["pages by contact method (receiver path)", statuses(storm.pages_by_contact_method)],
        ["first page after", f"{fmt(storm.first_page_seconds, 3)} s"],
        ["router had committed every alert before counting", "yes" if storm.settled else "no (deadline)"],
        ["alerts the router dead-lettered meanwhile", f"{storm.dead_lettered:,}"],
        ["earlier alerts unfinished at the start", f"{storm.backlog_at_start:,}"],
    ]
    return ["## Alert storm", "", *table(["", ""], rows), ""]


def _router(results: BenchResults) -> list[str]:
    if not results.router:
        return []
    headers = ["alerts", "rate /s", "sent", "paged", "p50 ms", "p99 ms", "max ms", "router CPU ms/alert", "kept up"]
    rows = []
    for run in results.router:
        cpu = {r.name: r.cpu_seconds for r in run.resources}
        others = ", ".join(f"{name} {fmt(1000 * seconds / run.alerts, 2)}" for name, seconds in sorted(cpu.items()))
        rows.append(
            [
                run.kind,
                fmt(run.rate),
                f"{run.alerts:,}",
                f"{run.paged_alerts:,}" if run.kind == "new" else "-",
                fmt(run.alerts_to_pages.p50_ms, 1),
                fmt(run.alerts_to_pages.p99_ms, 1),
                fmt(run.alerts_to_pages.max_ms, 1),
                fmt(run.router_cpu_ms_per_alert, 2),
                "yes" if run.drained else "no",
            ]
        )
        rows.append(["", "", "", "", "", "", "", f"CPU ms/alert by process: {others}", ""])
    return [
        "## The router alone (alerts topic → pages topic)",
        "",
        "Alert events produced straight to the alerts topic at the rate given, open loop; ingest and the notifier",
        "(both idle), Kafka and PostgreSQL running beside the router. Latency: the alert's send time to its first",
        "page's Kafka record timestamp. *duplicate*: the same alerts sent again (each a repeat of a firing alert: no",
        "page).",
        "",
        *table(headers, rows),
        "",
    ]


def render(results: BenchResults) -> str:
    env = results.environment
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `scripts/bench` from a {env.mode} run on {env.started_at}; do not edit by hand (re-run, or",
        "re-render with `uv run python -m scripts.bench render`). Raw results: [benchmarks.json](benchmarks.json).",
        "",
        "## Targets (DESIGN.md) against this run",
        "",
        *table(["target", "measured", "met"], targets(results)),
        "",
        "## Analysis",
        "",
        *[f"- {sentence}" for sentence in analysis(results)],
        "",
    ]
    if results.unmeasured:
        lines += ["## Not measured in this run", ""]
        lines += [f"- **{phase}**: {why.splitlines()[0] if why else ''}" for phase, why in results.unmeasured.items()]
        lines.append("")
    for section in (
        _throughput,
        _router,
        _latency,
        _storm,
        resources,
        load_safety,
        profiles,
        failures,
        _environment,
        _how,
    ):
        lines += section(results)
    return "\n".join(lines).rstrip() + "\n"
