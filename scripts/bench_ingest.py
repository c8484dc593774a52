"""Benchmark ingest against a local Prometheus Alertmanager, side by side, in one run (not a test).

For 1, 10 and 100 alerts per request it measures accepted alerts/s and p50/p99 request latency of
  - ingest ``POST /v1/alertmanager/{key}`` (Alertmanager webhook body; 2xx only after Kafka acknowledged), and
  - Alertmanager ``POST /api/v2/alerts`` (the same alerts as a postable-alerts array),
with the same closed-loop load generator (keep-alive HTTP/1.1 connections, pre-built requests), and prints a
Markdown report with the machine and the command, ready for docs/benchmarks.md.

Needs: a JDK 17+ and Maven for the local Kafka broker (or ``--kafka HOST:PORT``), and ``prometheus-alertmanager``
(``apt-get install -y prometheus-alertmanager``). Usage::

    uv run python scripts/bench_ingest.py [--duration 10] [--concurrency 32] [--workers 2] [--output FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
ROOT = SCRIPTS.parent
sys.path.insert(0, str(SCRIPTS))

BENCH_KEY = "bench-alertmanager-key"
DISTINCT_REQUESTS = 512


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------------------------- payloads


def alert_labels(request: int, index: int) -> dict[str, str]:
    """Realistic labels (~1.5 KB webhook body for one alert); every alert of the run is distinct."""
    return {
        "alertname": "BenchHighErrorRate",
        "cluster": "eu-west-1-prod",
        "env": "prod",
        "instance": f"10.1.{request % 250}.{index % 250}:8080",
        "job": "checkout-api",
        "namespace": "shop",
        "pod": f"checkout-api-{request:05d}-{index:03d}",
        "service": "checkout",
        "severity": "critical",
        "team": "payments",
    }


ANNOTATIONS = {
    "summary": "checkout-api 5xx ratio above 5% for 10m",
    "description": "5xx ratio is 7.3% (threshold 5%) on service checkout-api in namespace shop.",
    "runbook_url": "https://runbooks.example.com/checkout/high-error-rate",
}


def webhook_body(request: int, batch: int, starts_at: str) -> bytes:
    alerts = [
        {
            "status": "firing",
            "labels": alert_labels(request, i),
            "annotations": ANNOTATIONS,
            "startsAt": starts_at,
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.example:9090/graph?g0.expr=sum%28rate%28http_requests_total%29%29",
            "fingerprint": f"{request:08x}{i:08x}",  # Alertmanager always sends one
        }
        for i in range(batch)
    ]
    return json.dumps(
        {
            "version": "4",
            "groupKey": '{}:{alertname="BenchHighErrorRate"}',
            "truncatedAlerts": 0,
            "status": "firing",
            "receiver": "alertrouter",
            "groupLabels": {"alertname": "BenchHighErrorRate"},
            "commonLabels": {"alertname": "BenchHighErrorRate", "service": "checkout"},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager.example:9093",
            "alerts": alerts,
        },
        separators=(",", ":"),
    ).encode()


def postable_alerts_body(request: int, batch: int, starts_at: str) -> bytes:
    alerts = [
        {
            "labels": alert_labels(request, i),
            "annotations": ANNOTATIONS,
            "startsAt": starts_at,
            "generatorURL": "http://prometheus.example:9090/graph?g0.expr=sum%28rate%28http_requests_total%29%29",
        }
        for i in range(batch)
    ]
    return json.dumps(alerts, separators=(",", ":")).encode()


def http_request(port: int, path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


# ---------------------------------------------------------------------------------------------- load


@dataclass
class Result:
    requests: int
    failures: int
    alerts: int
    seconds: float
    latencies: list[float]

    @property
    def alerts_per_second(self) -> float:
        return self.alerts / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    writer.write(request)
    status_line = await reader.readline()
    status = int(status_line.split(b" ", 2)[1])
    length = 0
    chunked = False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        lowered = name.strip().lower()
        if lowered == b"content-length":
            length = int(value.strip())
        elif lowered == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readline()).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


async def closed_loop(port: int, requests: list[bytes], batch: int, concurrency: int, duration: float) -> Result:
    """``concurrency`` connections, each sending the next request as soon as the previous answer arrived."""
    latencies: list[float] = []
    counters = {"ok": 0, "failed": 0, "next": 0}
    deadline = time.perf_counter() + duration

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                request = requests[counters["next"] % len(requests)]
                counters["next"] += 1
                started = time.perf_counter()
                status = await _exchange(reader, writer, request)
                latencies.append(time.perf_counter() - started)
                counters["ok" if 200 <= status < 300 else "failed"] += 1
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    began = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    return Result(counters["ok"] + counters["failed"], counters["failed"], counters["ok"] * batch, elapsed, latencies)


# ---------------------------------------------------------------------------------------------- processes


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {url}")
        time.sleep(0.2)


@contextlib.contextmanager
def process(
    args: list[str], env: dict[str, str] | None = None, log: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    out = log.open("wb") if log else subprocess.DEVNULL
    proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if log:
            out.close()  # type: ignore[union-attr]


@contextlib.contextmanager
def kafka(given: str | None, directory: Path) -> Iterator[str]:
    if given:
        yield given
        return
    import local_kafka

    cluster = local_kafka.LocalKafka(directory / "kafka", nodes=1, base_port=local_kafka.free_port_block())
    cluster.start()
    try:
        yield cluster.bootstrap_servers
    finally:
        cluster.stop()


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, IndexError, ValueError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    return f"{os.cpu_count()} cores ({cpu}){memory}, {platform.platform()}, Python {platform.python_version()}"


# ---------------------------------------------------------------------------------------------- main


async def measure(port: int, bodies: list[bytes], path: str, batch: int, args: argparse.Namespace) -> Result:
    requests = [http_request(port, path, body) for body in bodies]
    await closed_loop(port, requests, batch, args.concurrency, args.warmup)
    return await closed_loop(port, requests, batch, args.concurrency, args.duration)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--batches", default="1,10,100")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per scenario")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="ingest uvicorn worker processes")
    parser.add_argument("--kafka", help="use this broker instead of starting a local one")
    parser.add_argument("--alertmanager", default=shutil.which("prometheus-alertmanager"))
    parser.add_argument("--log-level", default="INFO", help="ingest LOG_LEVEL (INFO logs every accepted alert)")
    parser.add_argument("--output", type=Path, help="also write the Markdown report here")
    args = parser.parse_args()
    if not args.alertmanager:
        print("prometheus-alertmanager not found: apt-get install -y prometheus-alertmanager", file=sys.stderr)
        return 2
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    batches = [int(b) for b in args.batches.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as temp, kafka(args.kafka, Path(temp)) as bootstrap:
        report = run(args, batches, Path(temp), bootstrap)
    print(report)
    if args.output:
        args.output.write_text(report)
    return 0


def run(args: argparse.Namespace, batches: list[int], directory: Path, bootstrap: str) -> str:
    config = directory / "ownership.yaml"
    config.write_text(
        f"integrations:\n  - {{id: bench, type: alertmanager, key: {BENCH_KEY}, development_only: true}}\n"
    )
    am_config = directory / "alertmanager.yml"
    am_config.write_text("route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n")
    ingest_port, am_port = free_port(), free_port()
    env = {
        **os.environ,
        "ALERTROUTER_CONFIG": str(config),
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "INGEST_HOST": "127.0.0.1",
        "INGEST_PORT": str(ingest_port),
        "INGEST_WORKERS": str(args.workers),
        "INGEST_ACCESS_LOG": "false",
        "LOG_LEVEL": args.log_level,
    }
    ingest_cmd = [sys.executable, "-m", "alertrouter_ingest"]
    am_cmd = [
        args.alertmanager,
        f"--config.file={am_config}",
        f"--storage.path={directory / 'am'}",
        f"--web.listen-address=127.0.0.1:{am_port}",
        "--cluster.listen-address=",
        "--log.level=warn",
    ]
    rows = []
    starts_at = datetime.now(UTC).isoformat()
    with process(ingest_cmd, env, directory / "ingest.log"), process(am_cmd, None, directory / "am.log"):
        wait_http(f"http://127.0.0.1:{ingest_port}/readyz")
        wait_http(f"http://127.0.0.1:{am_port}/-/ready")
        for batch in batches:
            webhooks = [webhook_body(r, batch, starts_at) for r in range(DISTINCT_REQUESTS)]
            postables = [postable_alerts_body(r, batch, starts_at) for r in range(DISTINCT_REQUESTS)]
            ours = asyncio.run(measure(ingest_port, webhooks, f"/v1/alertmanager/{BENCH_KEY}", batch, args))
            theirs = asyncio.run(measure(am_port, postables, "/api/v2/alerts", batch, args))
            rows.append((batch, ours, theirs))
            print(
                f"batch {batch}: ingest {ours.alerts_per_second:.0f}/s, alertmanager {theirs.alerts_per_second:.0f}/s",
                file=sys.stderr,
            )
    return markdown(args, rows)


def markdown(args: argparse.Namespace, rows: list[tuple[int, Result, Result]]) -> str:
    lines = [
        f"### bench-ingest, {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        "",
        f"- machine: {machine()}",
        f"- command: `{' '.join(['uv run python scripts/bench_ingest.py', *sys.argv[1:]])}`",
        f"- load: closed loop, {args.concurrency} keep-alive connections, {args.duration:g} s per scenario after "
        f"{args.warmup:g} s warm-up; ingest with {args.workers} uvicorn worker(s), LOG_LEVEL={args.log_level}, "
        "single local Kafka broker (acks=all); Alertmanager with clustering off and a receiver-less route",
        "",
        "| alerts/request | ingest alerts/s | ingest p50 / p99 ms | Alertmanager alerts/s | Alertmanager p50 / p99 ms "
        "| ratio ingest/AM | failed requests (ingest / AM) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for batch, ours, theirs in rows:
        ratio = ours.alerts_per_second / theirs.alerts_per_second if theirs.alerts_per_second else float("nan")
        lines.append(
            f"| {batch} | {ours.alerts_per_second:,.0f} | {ours.percentile(0.5):.1f} / {ours.percentile(0.99):.1f} "
            f"| {theirs.alerts_per_second:,.0f} | {theirs.percentile(0.5):.1f} / {theirs.percentile(0.99):.1f} "
            f"| {ratio:.2f} | {ours.failures} / {theirs.failures} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
