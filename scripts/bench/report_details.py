"""The report's detail sections: resource use and lag, load safety, the profile, dead letters and errors."""

from __future__ import annotations

from .markdown import fmt, statuses, table
from .results import BenchResults, ProcessUsage

SERVICES_ORDER = ("ingest", "router", "notifier", "kafka", "postgres", "alertmanager", "receiver", "bench client")


def _usage_rows(label: str, usage: list[ProcessUsage]) -> list[list[str]]:
    ordered = sorted(usage, key=lambda u: SERVICES_ORDER.index(u.name) if u.name in SERVICES_ORDER else 99)
    return [
        [
            label,
            u.name,
            fmt(u.cpu_seconds, 2),
            fmt(u.cpu_seconds_per_1000_alerts, 3),
            fmt(u.peak_rss_mib),
            str(u.processes),
        ]
        for u in ordered
    ]


def resources(results: BenchResults) -> list[str]:
    rows: list[list[str]] = []
    for run in results.latency:
        rows += _usage_rows(f"{run.system} {fmt(run.rate, 0)}/s", run.resources)
    if results.storm is not None:
        rows += _usage_rows("storm", results.storm.resources)
    if not rows:
        return []
    headers = ["run", "process tree", "CPU s", "CPU s per 1,000 alerts", "peak RSS MiB", "processes"]
    lag_rows = [
        [
            f"{run.system} {fmt(run.rate, 0)}/s",
            lag.group,
            f"{lag.max_records:,}",
            f"{lag.last_records:,}",
            str(lag.samples),
        ]
        for run in results.latency
        for lag in run.lag
    ]
    if results.storm is not None:
        lag_rows += [
            ["storm", lag.group, f"{lag.max_records:,}", f"{lag.last_records:,}", str(lag.samples)]
            for lag in results.storm.lag
        ]
    lines = [
        "## Resource use",
        "",
        "Per run, from sending the first alert until the last notification (drain included); CPU of a tree sums",
        "its processes (uvicorn workers, PostgreSQL backends). Per 1,000 alerts = CPU s / accepted alerts x 1,000.",
        "",
        *table(headers, rows),
        "",
    ]
    if lag_rows:
        lines += [
            "Kafka consumer lag (`alertrouter_consumer_lag_records` summed over partitions, sampled every second):",
            "",
            *table(["run", "group", "max records", "last records", "samples"], lag_rows),
            "",
        ]
    return lines


def load_safety(results: BenchResults) -> list[str]:
    run = results.load_safety
    if run is None:
        return []
    rows = [
        [
            "measured capacity (1 worker, closed loop)",
            f"{fmt(run.capacity_alerts_per_second, 0)} alerts/s at {run.batch} alerts/request",
        ],
        [
            "offered",
            f"{fmt(run.overload_factor, 1)}x = {fmt(run.offered_requests_per_second, 0)} requests/s for "
            f"{fmt(run.overload_seconds, 0)} s, up to {run.max_connections:,} connections",
        ],
        ["answers under overload", statuses(run.overload_statuses)],
        ["accepted under overload", f"{fmt(run.overload_accepted_alerts_per_second, 0)} alerts/s"],
        [
            "answer latency under overload (requests sent)",
            f"p50 {fmt(run.overload_latency.p50_ms)} ms, p99 {fmt(run.overload_latency.p99_ms)} ms, "
            f"max {fmt(run.overload_latency.max_ms)} ms",
        ],
        ["shed answers carrying Retry-After", f"{run.shed_with_retry_after:,}"],
        ["highest in-flight gauge read during the overload", fmt(run.max_in_flight_seen)],
        ["then offered", f"{fmt(run.recovery_rate_rps, 0)} requests/s for {fmt(run.recovery_seconds, 0)} s"],
        ["answers after overload", statuses(run.recovery_statuses)],
        [
            "answer latency after overload",
            f"p50 {fmt(run.recovery_latency.p50_ms)} ms, "
            f"p99 {fmt(run.recovery_latency.p99_ms)} ms, max {fmt(run.recovery_latency.max_ms)} ms",
        ],
        ["every answer 2xx from", f"{fmt(run.all_ok_after_ms, 0)} ms after the overload ended"],
        ["/readyz afterwards", "200" if run.ready_after else "not ready"],
        [
            "ingest RSS before / peak / after",
            f"{fmt(run.rss_before_mib)} / {fmt(run.peak_rss_mib)} / {fmt(run.rss_after_mib)} MiB",
        ],
    ]
    return ["## Load safety (ingest at 4x its capacity)", "", *table(["", ""], rows), ""]


def profiles(results: BenchResults) -> list[str]:
    if not results.profiles:
        return []
    lines = ["## Hot-path profile", ""]
    first = results.profiles[0]
    lines += [
        f"{first.tool}, {fmt(first.seconds, 0)} s per service at {fmt(first.rate, 0)} new alerts/s, all three",
        "services sampled at once. Native code (uvloop, asyncpg's protocol, orjson, system calls) is charged to the",
        "Python frame that called it. Samples waiting in the event loop's `select` are idle and left out; *busy* =",
        "the other samples / possible samples. py-spy counts a thread that is runnable but waiting for a core as",
        "busy, so *busy* above *on CPU* (measured from /proc) is time lost to CPU contention, which a system call",
        "that wakes another process (a socket write to PostgreSQL or Kafka) makes likely. Shares are of the busy",
        "samples; *inclusive* functions are the project's own.",
        "",
    ]
    for profile in results.profiles:
        lines += [
            f"### {profile.service} (busy {fmt(profile.busy_fraction * 100, 0)} %, on CPU "
            f"{fmt(profile.cpu_cores, 2)} cores, {profile.samples:,} busy / {profile.idle_samples:,} idle samples)",
            "",
            "- by package, self: " + ", ".join(f"{s.name} {fmt(s.percent)} %" for s in profile.by_package_self[:8]),
            "- by package, inclusive: "
            + ", ".join(f"{s.name} {fmt(s.percent)} %" for s in profile.by_package_inclusive[:8]),
            "",
            *table(["function (self)", "%"], ([f"`{s.name}`", fmt(s.percent)] for s in profile.top_self[:8])),
            "",
            *table(["function (inclusive)", "%"], ([f"`{s.name}`", fmt(s.percent)] for s in profile.top_inclusive[:8])),
            "",
        ]
    return lines


def failures(results: BenchResults) -> list[str]:
    if not results.dead_letters and not results.service_errors:
        return []
    lines = ["## Dead letters and logged errors", ""]
    if results.dead_letters:
        lines += ["Records in the dead-letter topics at the end of the end-to-end phase:", ""]
        lines += table(["topic", "records"], ([f"`{t}`", f"{n:,}"] for t, n in results.dead_letters.items()))
        lines.append("")
    if results.service_errors:
        lines += ["Error-level events in the services' logs over the whole run (numbers masked as N):", ""]
        rows = (
            [service, f"`{event}`", f"{count:,}"]
            for service, events in results.service_errors.items()
            for event, count in events.items()
        )
        lines += [*table(["service", "event", "count"], rows), ""]
    return lines
