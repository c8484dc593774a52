"""The system under test as separate processes: Kafka and PostgreSQL (the project's own scripts), the
benchmark receiver, and the three services started exactly as tests/e2e/conftest.py starts them.

Why durable PostgreSQL: scripts/local_postgres.py turns fsync off for fast tests; a benchmark that published
figures without durable commits would flatter the router, so the bench turns fsync, full_page_writes and
synchronous_commit back on, and sizes buffers and checkpoints as docs/deployment.md recommends (``--pg-fast``
keeps the test settings, and the report says which was used).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .httpclient import get_json_bytes

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import kafka_offsets as kafka_offsets  # noqa: E402  (re-exported)
import local_kafka as local_kafka  # noqa: E402  (re-exported)
import local_postgres as local_postgres  # noqa: E402  (re-exported)

BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
TOKEN = "bench-token"
BENCH_CONFIG = Path(__file__).resolve().parent / "ownership" / "bench.yaml"
EXAMPLE_CAPTURE = "127.0.0.1:18090"
# The broker's default options minus -XX:TieredStopAtLevel=1 (C1 only), which lowers peak throughput.
BENCH_JVM_OPTS = tuple(opt for opt in local_kafka.BROKER_JVM_OPTS if not opt.startswith("-XX:TieredStopAtLevel"))
DURABLE_POSTGRES = {"fsync": "on", "full_page_writes": "on", "synchronous_commit": "on"}
# What docs/deployment.md asks of a production PostgreSQL. With PostgreSQL's defaults (128 MB of buffers,
# max_wal_size 1 GB) three minutes at 250 and 500 alerts/s forced checkpoints by WAL volume, each followed by a burst
# of full-page images, and backends wrote out buffers themselves; the bench measures the system as deployed.
SIZED_POSTGRES = {
    "shared_buffers": "1GB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "15min",
    "wal_compression": "lz4",
}


class StackError(RuntimeError):
    """A component could not start; the message says which and shows its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def bench_config_text(receiver_port: int) -> str:
    return BENCH_CONFIG.read_text().replace("{receiver}", f"{HOST}:{receiver_port}")


def write_ownership(target: Path, receiver_port: int) -> Path:
    """The example configuration (webhooks rewritten to the receiver) plus the benchmark's own file."""
    shutil.copytree(ROOT / "examples" / "ownership", target)
    for file in target.glob("*.y*ml"):
        file.write_text(file.read_text().replace(EXAMPLE_CAPTURE, f"{HOST}:{receiver_port}"))
    (target / "bench.yaml").write_text(bench_config_text(receiver_port))
    return target


@dataclass
class Infra:
    workdir: Path
    kafka: local_kafka.LocalKafka
    postgres: local_postgres.LocalPostgres
    receiver: subprocess.Popen[bytes]
    receiver_port: int
    config_dir: Path
    database_url: str
    postgres_settings: dict[str, str]

    def postgres_pid(self) -> int | None:
        pid_file = self.postgres.pgdata / "postmaster.pid"
        try:
            return int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def kafka_pid(self) -> int | None:
        return self.kafka.nodes[0].pid()

    def stop(self) -> None:
        terminate(self.receiver)
        self.kafka.stop()
        self.postgres.stop()


def start_infra(workdir: Path, durable_postgres: bool) -> Infra:
    """Blocking (JVM and initdb): call through ``asyncio.to_thread``."""
    workdir.mkdir(parents=True, exist_ok=True)
    receiver_port = free_port()
    receiver = _start_receiver(workdir, receiver_port)
    postgres = local_postgres.LocalPostgres(workdir / "pg")
    kafka = local_kafka.LocalKafka(workdir / "kafka", nodes=1, base_port=_free_pair(), jvm_opts=BENCH_JVM_OPTS)
    try:
        with ThreadPoolExecutor(max_workers=1) as background:
            kafka_started = background.submit(kafka.start)  # the JVM starts while PostgreSQL does
            postgres.start()
            settings = dict(local_postgres.TEST_SETTINGS)
            if durable_postgres:
                for name, value in (DURABLE_POSTGRES | SIZED_POSTGRES).items():
                    postgres.psql("postgres", f"ALTER SYSTEM SET {name} = '{value}'")
                postgres.restart()  # shared_buffers takes effect at start only
                settings.update(DURABLE_POSTGRES | SIZED_POSTGRES)
            kafka_started.result()
    except BaseException:
        terminate(receiver)
        kafka.stop()
        postgres.stop()
        raise
    config_dir = write_ownership(workdir / "ownership", receiver_port)
    return Infra(workdir, kafka, postgres, receiver, receiver_port, config_dir, postgres.url(), settings)


def _free_pair() -> int:
    return local_kafka.free_port_block(1)


def _start_receiver(workdir: Path, port: int) -> subprocess.Popen[bytes]:
    log = (workdir / "receiver.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "scripts.bench.receiver", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=log,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if b"ready" not in line:
        raise StackError(f"the receiver did not start: {(workdir / 'receiver.log').read_text()[-2000:]}")
    return proc


def terminate(proc: subprocess.Popen[bytes] | None, grace: float = 20.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def service_env(infra: Infra, ports: dict[str, int], extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "KAFKA_BOOTSTRAP_SERVERS": infra.kafka.bootstrap_servers,
            "DATABASE_URL": infra.database_url,
            "ALERTROUTER_CONFIG": str(infra.config_dir),
            "ALERTROUTER_API_TOKENS": f"{hashlib.sha256(TOKEN.encode()).hexdigest()}:read+write",
            "INGEST_PORT": str(ports["ingest"]),
            "ROUTER_PORT": str(ports["router"]),
            "NOTIFIER_PORT": str(ports["notifier"]),
            "INGEST_HOST": HOST,
            "ROUTER_HOST": HOST,
            "NOTIFIER_HOST": HOST,
            "NOTIFIER_ROUTER_URL": f"http://{HOST}:{ports['router']}",
            "NOTIFIER_ROUTER_API_TOKEN": TOKEN,
            "NOTIFIER_WEBHOOK_SIGNING_SECRET": "bench-signing-secret",
            "NOTIFIER_ACK_SIGNING_SECRET": "bench-ack-secret",
        }
    )
    env.update(extra or {})
    return env


def public_settings(env: dict[str, str]) -> dict[str, str]:
    """The settings worth printing in the report (never tokens or secrets)."""
    keep = ("KAFKA_", "INGEST_", "ROUTER_", "NOTIFIER_", "LOG_")
    return {
        k: v
        for k, v in sorted(env.items())
        if k.startswith(keep)
        and "SECRET" not in k
        and "TOKEN" not in k
        and "PORT" not in k
        and "HOST" not in k
        and not k.endswith("_URL")
        and k != "KAFKA_BOOTSTRAP_SERVERS"
    }


def migrate(env: dict[str, str]) -> None:
    for command in (["alertrouter-router", "migrate"], ["alertrouter-notifier", "migrate"]):
        result = subprocess.run([str(BIN / command[0]), *command[1:]], env=env, capture_output=True, check=False)
        if result.returncode != 0:
            raise StackError(f"{' '.join(command)} failed:\n{(result.stdout + result.stderr).decode()[-3000:]}")


def validate_config(env: dict[str, str], config_dir: Path) -> str:
    result = subprocess.run(
        [str(BIN / "alertrouter-router"), "config", "validate", str(config_dir)],
        env=env,
        capture_output=True,
        check=False,
    )
    output = (result.stdout + result.stderr).decode()
    if result.returncode != 0:
        raise StackError(f"the benchmark ownership configuration is invalid:\n{output[-3000:]}")
    return output


COMMANDS = {
    "ingest": ["alertrouter-ingest"],
    "router": ["alertrouter-router", "run"],
    "notifier": ["alertrouter-notifier", "run"],
}


@dataclass
class Service:
    name: str
    port: int
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    async def start(self, timeout: float = 90.0) -> None:
        command = COMMANDS[self.name]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(BIN / command[0]), *command[1:]], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        started = time.monotonic()
        await wait_ready(self.name, HOST, self.port, "/readyz", self.proc, self.log, timeout)
        print(f"[bench] {self.name} ready after {time.monotonic() - started:.1f} s", flush=True)

    async def stop(self) -> None:
        await asyncio.to_thread(terminate, self.proc)
        self.proc = None

    def check_alive(self) -> None:
        """Raise if the process ended on its own (crashed, or killed by something outside the benchmark)."""
        code = self.proc.poll() if self.proc is not None else None
        if code is not None:
            how = f"killed by signal {-code}" if code < 0 else f"exited with {code}"
            raise StackError(f"{self.name} {how} during the run:\n{_tail(self.log, 1500)}")


async def wait_ready(
    name: str, host: str, port: int, path: str, proc: subprocess.Popen[bytes], log: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StackError(f"{name} exited with {proc.returncode}:\n{_tail(log)}")
        try:
            response = await get_json_bytes(host, port, path, timeout=3.0)
            if response.status == 200:
                return
        except (OSError, TimeoutError):
            pass
        await asyncio.sleep(0.3)
    raise StackError(f"{name} not ready after {timeout}s:\n{_tail(log)}")


def _tail(log: Path, chars: int = 3000) -> str:
    try:
        return log.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"
