"""The targets table and the analysis sentences, computed from the results (no figure is typed by hand).

Why rules rather than prose: a re-run on another machine must not keep sentences that its numbers contradict.
"""

from __future__ import annotations

from .results import BenchResults, LatencyRun, ThroughputRun
from .stats import ratio

P99_TARGET_MS = 50.0
NOTIFIER_CPU_TARGET_MS = 1.0
P99_SUSTAINED_MS = 1000.0
STORM_FIRST_PAGE_S = 1.0
BUSY_CLIENT_CORES = 0.8
FELL_BEHIND_DRAIN_SHARE = 0.5


def _f(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _yes(ok: bool | None) -> str:
    return "not measured" if ok is None else ("yes" if ok else "no")


def _intake(results: BenchResults, system: str, batch: int, workers: int | None) -> ThroughputRun | None:
    return next(
        (r for r in results.throughput if r.system == system and r.batch == batch and r.workers == workers), None
    )


def _latency(results: BenchResults, system: str, rate: float) -> LatencyRun | None:
    return next((r for r in results.latency if r.system == system and r.rate == rate), None)


def fell_behind(run: LatencyRun) -> bool:
    """The pipeline did not keep up with the offered rate: pages were still missing at the drain deadline, or the
    backlog left when sending stopped took more than half the run's length to clear."""
    return not run.drained or run.drain_seconds > FELL_BEHIND_DRAIN_SHARE * run.seconds


def sustained(run: LatencyRun, p99_below_ms: float = P99_SUSTAINED_MS) -> bool:
    p99 = run.end_to_end.p99_ms
    return run.drained and run.missing_alerts == 0 and p99 is not None and p99 < p99_below_ms


def highest_sustained(results: BenchResults, system: str, p99_below_ms: float = P99_SUSTAINED_MS) -> float | None:
    rates = [r.rate for r in results.latency if r.system == system and sustained(r, p99_below_ms)]
    return max(rates) if rates else None


def _intake_targets(results: BenchResults) -> list[list[str]]:
    rows = []
    worker_counts = sorted({r.workers for r in results.throughput if r.system == "alertrouter" and r.workers})
    for batch, share, label in ((100, 1.0, "at least equal to"), (1, 0.5, "at least half of")):
        reference = _intake(results, "alertmanager", batch, None)
        for workers in worker_counts or [1]:
            run = _intake(results, "alertrouter", batch, workers)
            ours = run.alerts_per_second if run else None
            theirs = reference.alerts_per_second if reference else None
            value = ratio(ours, theirs)
            rows.append(
                [
                    f"ingest alerts/s {label} Alertmanager's at {batch}/request ({workers} worker(s))",
                    f"{_f(ours)} vs {_f(theirs)} (ratio {_f(value, 2)})",
                    _yes(None if value is None else value >= share),
                ]
            )
    return rows


def _p99_target(results: BenchResults) -> list[str]:
    label = "webhook → provider p99 ≤ 50 ms at 500 new alerts/s"
    at500 = _latency(results, "alertrouter", 500.0)
    if at500 is None:
        behind = [r.rate for r in results.latency if r.system == "alertrouter" and fell_behind(r) and r.rate < 500]
        if behind:
            return [label, f"not run: the pipeline fell behind at {_f(min(behind))} alerts/s", "no"]
        return [label, "n/a", _yes(None)]
    p99 = at500.end_to_end.p99_ms
    ok = None if p99 is None else (p99 <= P99_TARGET_MS and at500.missing_alerts == 0)
    return [label, f"p99 {_f(p99, 1)} ms", _yes(ok)]


def _notifier_target(results: BenchResults) -> list[str]:
    """Its CPU over everything it sent in the 500/s run (each bench alert pages one webhook contact method)."""
    label = f"notifier CPU ≤ {NOTIFIER_CPU_TARGET_MS:g} ms per delivery at 500 new alerts/s"
    at500 = _latency(results, "alertrouter", 500.0)
    usage = next((u for u in at500.resources if u.name == "notifier"), None) if at500 else None
    sent = at500.delivered_alerts + at500.extra_notifications if at500 else 0
    if usage is None or not sent:
        return [label, "n/a", _yes(None)]
    per_delivery = usage.cpu_seconds / sent * 1000
    return [label, f"{_f(per_delivery, 2)} ms", _yes(per_delivery <= NOTIFIER_CPU_TARGET_MS)]


def targets(results: BenchResults) -> list[list[str]]:
    rows = _intake_targets(results)
    rows.append(_p99_target(results))
    rows.append(_notifier_target(results))
    storm = results.storm
    if storm is None:
        rows.append(["alert storm: one incident, one page per contact method, first page ≤ 1 s", "n/a", _yes(None)])
    else:
        one_page = bool(storm.pages_by_contact_method) and all(n == 1 for n in storm.pages_by_contact_method.values())
        first = storm.first_page_seconds
        rows += [
            [
                f"storm of {storm.alerts:,} alerts in {storm.seconds:g} s: one incident",
                _f(storm.incidents),
                _yes(None if storm.incidents is None else storm.incidents == 1),
            ],
            ["storm: one page per contact method", f"{storm.pages:,} page(s)", _yes(one_page)],
            ["storm: first page within 1 s", f"{_f(first, 3)} s", _yes(None if first is None else first <= 1.0)],
        ]
    rows += _router_targets(results)
    for system in ("alertrouter", "alertmanager"):
        measured = [r.rate for r in results.latency if r.system == system]
        of = ", ".join(_f(r) for r in measured)
        for label, limit in ((f"{P99_TARGET_MS:g} ms", P99_TARGET_MS), ("1 s", P99_SUSTAINED_MS)):
            best = highest_sustained(results, system, limit)
            rows.append(
                [
                    f"{system}: highest offered rate sustained with p99 < {label} (of {of})",
                    f"{_f(best)} alerts/s" if best else "none of the measured rates",
                    "-",
                ]
            )
    return rows


def _router_targets(results: BenchResults) -> list[list[str]]:
    """The router core v2 targets: CPU per new alert and per duplicate, alerts topic → pages topic p99 at 500/s."""
    rows = []
    for kind, limit in (("new", 1.0), ("duplicate", 0.3)):
        runs = [r for r in results.router if r.kind == kind and r.rate == 500]
        cpu = runs[0].router_cpu_ms_per_alert if runs else None
        met = None if cpu is None else cpu <= limit
        rows.append([f"router CPU ≤ {limit:g} ms per {kind} alert at 500/s", f"{_f(cpu, 2)} ms", _yes(met)])
    new = [r for r in results.router if r.kind == "new" and r.rate == 500]
    p99 = new[0].alerts_to_pages.p99_ms if new else None
    kept_up = new[0].drained if new else None
    rows.append(
        [
            "alerts topic → pages topic p99 ≤ 20 ms at 500 new alerts/s",
            f"{_f(p99, 1)} ms",
            _yes(None if p99 is None else p99 <= 20),
        ]
    )
    rows.append(["router alone keeps up with 500 new alerts/s", "yes" if kept_up else "no", _yes(kept_up)])
    return rows


def _load_sentence(results: BenchResults) -> str:
    env = results.environment
    start = " / ".join(f"{x:.2f}" for x in env.load_average_start)
    end = " / ".join(f"{x:.2f}" for x in env.load_average_end) if env.load_average_end else "n/a"
    return (
        f"Machine: {env.cores} cores; load average (1/5/15 min) {start} when the run started and {end} when it "
        "ended (the machine may be shared: load the run did not add was other work). Every process of the stack, "
        "the load generator and the receiver ran on these cores, so the figures are for the whole system on one "
        "small machine."
    )


def _intake_sentences(results: BenchResults) -> list[str]:
    sentences = []
    for batch in sorted({r.batch for r in results.throughput}):
        ours = [r for r in results.throughput if r.system == "alertrouter" and r.batch == batch]
        reference = _intake(results, "alertmanager", batch, None)
        if not ours:
            continue
        parts = ", ".join(f"{_f(r.alerts_per_second)} with {r.workers} worker(s)" for r in ours)
        ref = f"; Alertmanager {_f(reference.alerts_per_second)}" if reference else ""
        sentences.append(f"Intake at {batch} alert(s)/request: ingest accepted {parts} alerts/s{ref}.")
    busy = [r for r in results.throughput if r.client_cpu_cores >= BUSY_CLIENT_CORES]
    if busy:
        runs = ", ".join(f"{r.system} {r.batch}/request" for r in busy)
        sentences.append(
            f"The load generator itself used at least {BUSY_CLIENT_CORES} of a core in: {runs}; on 2 cores those "
            "figures are bounded by the machine, not by the server alone."
        )
    return sentences


def _latency_sentences(results: BenchResults) -> list[str]:
    sentences = []
    for run in (r for r in results.latency if r.system == "alertrouter"):
        reference = _latency(results, "alertmanager", run.rate)
        ref = f" (Alertmanager: p99 {_f(reference.end_to_end.p99_ms, 1)} ms)" if reference else ""
        figures = f"p50 {_f(run.end_to_end.p50_ms, 1)} ms, p99 {_f(run.end_to_end.p99_ms, 1)} ms{ref}"
        if run.to_decision and run.decision_to_provider:
            figures += (
                f"; request → router decision p50 {_f(run.to_decision.p50_ms, 1)} / p99 "
                f"{_f(run.to_decision.p99_ms, 1)} ms, decision → provider p50 "
                f"{_f(run.decision_to_provider.p50_ms, 1)} / p99 {_f(run.decision_to_provider.p99_ms, 1)} ms"
            )
        router_lag = max((lag.max_records for lag in run.lag if lag.group == "router"), default=None)
        if not run.drained:
            sentences.append(
                f"At {_f(run.rate)} new alerts/s the pipeline did not keep up: {run.missing_alerts:,} of "
                f"{run.accepted_alerts:,} accepted alerts had no page when the drain deadline passed (router lag up "
                f"to {_f(router_lag)} records); {figures} for those paged."
            )
        elif fell_behind(run):
            sentences.append(
                f"At {_f(run.rate)} new alerts/s the pipeline fell behind: every alert was paged, but the last page "
                f"came {_f(run.drain_seconds, 1)} s after the last alert (router lag up to {_f(router_lag)} records); "
                f"{figures}."
            )
        else:
            sentences.append(f"At {_f(run.rate)} new alerts/s alertrouter kept up and paged every alert: {figures}.")
    return sentences


def _cost_sentences(results: BenchResults) -> list[str]:
    """From the highest rate that kept up (every alert's work finished inside the measured window)."""
    runs = [r for r in results.latency if r.system == "alertrouter" and r.resources]
    kept_up = [r for r in runs if not fell_behind(r)] or [r for r in runs if r.drained]
    if not kept_up:
        return []
    run = max(kept_up, key=lambda r: r.rate)
    ranked = sorted(
        (u for u in run.resources if u.cpu_seconds_per_1000_alerts is not None and u.name != "receiver"),
        key=lambda u: u.cpu_seconds_per_1000_alerts or 0.0,
        reverse=True,
    )
    if not ranked:
        return []
    parts = ", ".join(f"{u.name} {_f(u.cpu_seconds_per_1000_alerts, 2)}" for u in ranked[:5])
    return [f"CPU seconds per 1,000 alerts at {_f(run.rate)} alerts/s, highest first: {parts}."]


def _machine_sentence(results: BenchResults) -> list[str]:
    """How busy the whole machine was at each rate: latency past saturation is queueing for a core, whatever the
    CPU per alert, and per-alert CPU falls as batches grow, so the cores in use say more than the cost per alert."""
    parts = []
    runs = [r for r in results.latency if r.system == "alertrouter" and r.resources]
    for run in sorted(runs, key=lambda r: r.rate):
        wall = run.seconds + run.drain_seconds
        used = sum(u.cpu_seconds for u in run.resources) / wall if wall > 0 else None
        parts.append(f"{_f(used, 2)} at {_f(run.rate)}/s")
    if not parts:
        return []
    return [
        f"Cores in use by every process of an end-to-end run (the stack, the load generator and the receiver), of "
        f"{results.environment.cores}: {', '.join(parts)}."
    ]


def _profile_sentences(results: BenchResults) -> list[str]:
    sentences = []
    for profile in results.profiles:
        packages = ", ".join(f"{s.name} {s.percent:.0f} %" for s in profile.by_package_inclusive[:4])
        functions = ", ".join(f"`{s.name}` {s.percent:.0f} %" for s in profile.top_self[:3])
        steps = ", ".join(f"`{s.name}` {s.percent:.0f} %" for s in profile.top_inclusive[:4])
        cpu = "n/a" if profile.cpu_cores is None else f"{profile.cpu_cores:.2f}"
        sentences.append(
            f"Profile of {profile.service}: busy {profile.busy_fraction * 100:.0f} % of the sampled time while on "
            f"CPU {cpu} cores; by package (inclusive): {packages}; most self time: {functions}; "
            f"its own steps (inclusive): {steps}."
        )
    return sentences


def _storm_and_safety(results: BenchResults) -> list[str]:
    sentences = []
    storm = results.storm
    if storm is not None:
        sentences.append(
            f"Storm: {storm.accepted_alerts:,} alerts for `{storm.service}` became {_f(storm.incidents)} incident(s) "
            f"and {storm.pages:,} page(s); the first page arrived {_f(storm.first_page_seconds, 3)} s after the "
            "first alert was sent."
        )
    safety = results.load_safety
    if safety is not None:
        shed = sum(n for s, n in safety.overload_statuses.items() if s.split(" ", 1)[0] in ("429", "503"))
        sentences.append(
            f"Overload at {safety.overload_factor:g}x capacity: {shed:,} requests shed with 429/503 "
            f"({safety.shed_with_retry_after:,} with Retry-After) while "
            f"{_f(safety.overload_accepted_alerts_per_second)} alerts/s were still accepted; afterwards every "
            f"answer was 2xx from {_f(safety.all_ok_after_ms)} ms on;"
            f" ingest peak RSS {_f(safety.peak_rss_mib, 1)} MiB (before {_f(safety.rss_before_mib, 1)} MiB)."
        )
    return sentences


def _failure_sentences(results: BenchResults) -> list[str]:
    sentences = []
    dead = {topic: n for topic, n in results.dead_letters.items() if n}
    if dead:
        parts = ", ".join(f"{n:,} in `{topic}`" for topic, n in dead.items())
        sentences.append(f"Records were dead-lettered during the run: {parts}.")
    for service, events in results.service_errors.items():
        event, count = next(iter(events.items()))
        total = sum(events.values())
        sentences.append(f"{service} logged {total:,} error(s); the most frequent ({count:,}): `{event}`.")
    return sentences


def analysis(results: BenchResults) -> list[str]:
    return [
        *_failure_sentences(results),
        _load_sentence(results),
        *_intake_sentences(results),
        *_latency_sentences(results),
        *_cost_sentences(results),
        *_machine_sentence(results),
        *_profile_sentences(results),
        *_storm_and_safety(results),
    ]
