"""``python -m scripts.bench quick|full|render``: run the benchmark and render its report.

``full`` writes docs/benchmarks.md and docs/benchmarks.json (the published figures, about 20 minutes);
``quick`` (under two minutes, for development) writes .run/bench/benchmarks-quick.{md,json} unless --out is
given; ``render`` re-renders a Markdown report from an existing JSON file without measuring anything.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import uvloop

from .context import BenchContext
from .environment import describe
from .logscan import service_errors
from .phases_e2e import alertmanager_latency, end_to_end
from .phases_ingest import alertmanager_throughput, ingest_throughput
from .phases_router import router_alone
from .plan import Plan, plan_for
from .procstats import Sampler
from .report import render
from .results import BenchResults, Environment
from .stack import (
    BENCH_CONFIG,
    ROOT,
    Infra,
    free_port,
    migrate,
    public_settings,
    service_env,
    start_infra,
    validate_config,
)

DEFAULT_OUTPUT = {"full": ROOT / "docs" / "benchmarks.md", "quick": ROOT / ".run" / "bench" / "benchmarks-quick.md"}
Phase = Callable[[BenchContext], Awaitable[None]]
PHASES: tuple[tuple[str, Phase], ...] = (
    ("ingest throughput and load safety", ingest_throughput),
    ("Alertmanager throughput", alertmanager_throughput),
    ("router alone", router_alone),
    ("end to end", end_to_end),
    ("Alertmanager latency", alertmanager_latency),
)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench", description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["quick", "full", "render"])
    parser.add_argument("--out", type=Path, help="Markdown report path (the JSON goes beside it)")
    parser.add_argument("--json", type=Path, help="render: the results file to read")
    parser.add_argument("--rates", help="override the latency rates, e.g. 100,500,1000")
    parser.add_argument("--latency-seconds", type=float, help="override the duration of each latency run")
    parser.add_argument("--all-rates", action="store_true", help="run every latency rate even when behind")
    parser.add_argument("--pg-fast", action="store_true", help="keep PostgreSQL's test settings (fsync off)")
    parser.add_argument(
        "--workdir", type=Path, help="keep logs, profiles and latency timelines here (default: a temporary dir)"
    )
    parser.add_argument(
        "--only", help="run only the phases whose names contain one of these words, e.g. 'end to end' (development)"
    )
    return parser.parse_args(argv)


def _environment(plan: Plan, infra: Infra, settings: dict[str, str]) -> Environment:
    command = "uv run python -m scripts.bench " + " ".join(sys.argv[1:])
    facts = describe(plan.mode, command.strip())
    all_settings = {**settings, **{f"postgresql.conf {k}": v for k, v in infra.postgres_settings.items()}}
    all_settings.update({f"plan {k}": str(v) for k, v in plan.describe().items() if k != "mode"})
    return Environment.model_validate({**facts, "settings": all_settings, "bench_config": BENCH_CONFIG.read_text()})


async def _run_phases(ctx: BenchContext, only: list[str]) -> None:
    for name, phase in PHASES:
        if only and not any(word in name for word in only):
            ctx.unmeasured(name, "skipped (--only)")
            continue
        started = time.monotonic()
        print(f"[bench] phase: {name}", flush=True)
        try:
            await phase(ctx)
        except Exception as exc:  # a failed phase must not lose the others' measurements
            traceback.print_exc()
            ctx.unmeasured(name, f"{type(exc).__name__}: {exc}"[:2000])
        print(f"[bench] phase {name} took {time.monotonic() - started:.0f} s", flush=True)


async def measure(plan: Plan, workdir: Path, durable_postgres: bool, only: list[str] | None = None) -> BenchResults:
    started = time.monotonic()
    infra = await asyncio.to_thread(start_infra, workdir, durable_postgres)
    sampler = Sampler()
    try:
        ports = {name: free_port() for name in ("ingest", "router", "notifier")}
        env = service_env(infra, ports)
        migrate(env)
        validate_config(env, infra.config_dir)
        settings = public_settings(env) | {"INGEST_WORKERS (end to end)": str(plan.e2e_ingest_workers)}
        results = BenchResults(environment=_environment(plan, infra, settings))
        ctx = BenchContext(plan, infra, sampler, results, workdir, ports=ports)
        ctx.watch_infrastructure()
        sampler.start()
        await _run_phases(ctx, only or [])
    finally:
        await sampler.stop()
        await asyncio.to_thread(infra.stop)
    results.service_errors = service_errors(workdir)
    results.environment.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
    results.environment.wall_seconds = round(time.monotonic() - started, 1)
    results.environment.load_average_end = os.getloadavg()
    return results


def write(results: BenchResults, markdown: Path) -> Path:
    markdown.parent.mkdir(parents=True, exist_ok=True)
    json_path = markdown.with_suffix(".json")
    json_path.write_text(results.model_dump_json(indent=1) + "\n")
    markdown.write_text(render(results))
    return json_path


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.mode == "render":
        source = args.json or DEFAULT_OUTPUT["full"].with_suffix(".json")
        results = BenchResults.model_validate_json(source.read_text())
        target = args.out or source.with_suffix(".md")
        target.write_text(render(results))
        print(f"rendered {target}")
        return 0
    rates = tuple(float(r) for r in args.rates.split(",")) if args.rates else None
    plan = plan_for(args.mode, rates, args.latency_seconds, args.all_rates)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="alertrouter-bench-"))
    only = [word.strip() for word in args.only.split(",")] if args.only else None
    results = uvloop.run(measure(plan, workdir, durable_postgres=not args.pg_fast, only=only))
    json_path = write(results, args.out or DEFAULT_OUTPUT[plan.mode])
    print(f"[bench] wrote {args.out or DEFAULT_OUTPUT[plan.mode]} and {json_path}", flush=True)
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"[bench] logs and profiles kept in {workdir}", flush=True)
    return 0
