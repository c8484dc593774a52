"""The system under fault: Kafka (1 or 3 brokers), the suite's own PostgreSQL, and each service replica as a
separate process that a scenario can start, stop, SIGKILL and restart with its own settings.

Why a stack of its own: the scenarios kill brokers and restart PostgreSQL, which must never disturb the session's
shared broker and database that other suites use; and a scenario must be able to change one replica's settings
(e.g. a short maximum page age) without touching the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import local_kafka
import local_postgres

from alertrouter_shared.kafka import ensure_topics
from alertrouter_shared.settings import CommonSettings
from alertrouter_shared.topics import all_topics
from tests.faults.providers import TWILIO_SID, TWILIO_TOKEN, WEBHOOK_SECRET, FaultCapture, FaultTwilio
from tests.helpers import free_port

BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
API_TOKEN = "faults-token"
CONFIG_TEMPLATE = Path(__file__).resolve().parent / "ownership" / "faults.yaml"
COMMANDS = {
    "ingest": ["alertrouter-ingest"],
    "router": ["alertrouter-router", "run"],
    "notifier": ["alertrouter-notifier", "run"],
}
REPLICAS = ("ingest", "router-1", "router-2", "notifier-1", "notifier-2")
BASELINE = ("ingest", "router-1", "notifier-1")
PARTITIONS = 6

# The suite's settings (documented in docs/operations.md, "Failure modes"). Flood protection is off so every
# page can be counted; retries, leases and timeouts are shortened so a scenario recovers within seconds.
SUITE_SETTINGS = {
    "LOG_FORMAT": "json",
    "LOG_LEVEL": "INFO",
    "INGEST_RETRY_AFTER_SECONDS": "2",
    "NOTIFIER_THROTTLE_SMS_MAX": "0",
    "NOTIFIER_THROTTLE_EMAIL_MAX": "0",
    "NOTIFIER_THROTTLE_SLACK_MAX": "0",
    "NOTIFIER_THROTTLE_TEAMS_MAX": "0",
    "NOTIFIER_THROTTLE_WEBHOOK_MAX": "0",
    "NOTIFIER_RETRY_BASE_SECONDS": "1",
    "NOTIFIER_RETRY_MAX_SECONDS": "5",
    "NOTIFIER_HTTP_TIMEOUT_SECONDS": "5",
    "NOTIFIER_TWILIO_STATUS_CALLBACKS": "false",
}


class StackError(RuntimeError):
    """A process did not come up; the message carries the end of its log."""


@dataclass
class Replica:
    """One service process; ``overrides`` are the settings it was last started with."""

    name: str
    port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    overrides: dict[str, str] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.name.split("-")[0]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, chars: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")[-chars:]
        return "(no log)"


@dataclass
class Providers:
    capture: FaultCapture
    twilio: FaultTwilio

    def reset(self) -> None:
        self.capture.timeline.clear()
        self.twilio.timeline.clear()


class Stack:
    def __init__(
        self,
        workdir: Path,
        kafka: local_kafka.LocalKafka,
        postgres: local_postgres.LocalPostgres,
        database: str,
        providers: Providers,
    ) -> None:
        self.workdir = workdir
        self.kafka = kafka
        self.postgres = postgres
        self.database = database
        self.providers = providers
        self.replication = 3 if len(kafka.nodes) == 3 else 1
        self.config_dir = self._write_config()
        self.replicas = {name: Replica(name, free_port(), workdir / f"{name}.log") for name in REPLICAS}

    # ------------------------------------------------------------------------------------------ settings

    @property
    def dsn(self) -> str:
        return self.postgres.dsn(self.database)

    def _write_config(self) -> Path:
        target = self.workdir / "ownership"
        target.mkdir(parents=True, exist_ok=True)
        capture = f"{HOST}:{self.providers.capture.port}"
        (target / "faults.yaml").write_text(CONFIG_TEMPLATE.read_text().replace("{capture}", capture))
        return target

    def env(self, replica: Replica, overrides: dict[str, str]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("INGEST_", "ROUTER_", "NOTIFIER_"))}
        env.update(SUITE_SETTINGS)
        env.update(
            {
                "KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap_servers,
                "KAFKA_TOPIC_PARTITIONS": str(PARTITIONS),
                "KAFKA_TOPIC_REPLICATION_FACTOR": str(self.replication),
                "DATABASE_URL": self.postgres.url(self.database),
                "ALERTROUTER_CONFIG": str(self.config_dir),
                "ALERTROUTER_API_TOKENS": f"{hashlib.sha256(API_TOKEN.encode()).hexdigest()}:read+write",
                f"{replica.kind.upper()}_HOST": HOST,
                f"{replica.kind.upper()}_PORT": str(replica.port),
                "NOTIFIER_PUBLIC_URL": f"http://{HOST}:{replica.port}",
                "NOTIFIER_ROUTER_URL": self.replicas["router-1"].url,
                "NOTIFIER_ROUTER_API_TOKEN": API_TOKEN,
                "NOTIFIER_WEBHOOK_SIGNING_SECRET": WEBHOOK_SECRET,
                "NOTIFIER_ACK_SIGNING_SECRET": "faults-ack-secret",
                "NOTIFIER_TWILIO_BASE_URL": self.providers.twilio.url,
                "NOTIFIER_TWILIO_ACCOUNT_SID": TWILIO_SID,
                "NOTIFIER_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
                "NOTIFIER_TWILIO_FROM": "+15005550006",
            }
        )
        env.update(overrides)
        return env

    # ------------------------------------------------------------------------------------------ lifecycle

    async def prepare(self) -> None:
        """Topics once, with the suite's partitions and replication, then both services' migrations."""
        await ensure_topics(
            CommonSettings(kafka_bootstrap_servers=self.kafka.bootstrap_servers),
            all_topics(PARTITIONS, self.replication),
        )
        env = self.env(self.replicas["router-1"], {})
        for command in (["alertrouter-router", "migrate"], ["alertrouter-notifier", "migrate"]):
            result = await asyncio.to_thread(
                subprocess.run, [str(BIN / command[0]), *command[1:]], env=env, capture_output=True, check=False
            )
            if result.returncode != 0:
                raise StackError(f"{' '.join(command)} failed:\n{(result.stdout + result.stderr).decode()[-3000:]}")

    async def start(self, name: str, **overrides: str) -> Replica:
        replica = self.replicas[name]
        if replica.running:
            raise StackError(f"{name} is already running")
        replica.overrides = dict(overrides)
        command = COMMANDS[replica.kind]
        with replica.log.open("ab") as log:
            log.write(f"\n===== start {name} {overrides} at {time.time():.3f}\n".encode())
            replica.proc = subprocess.Popen(
                [str(BIN / command[0]), *command[1:]],
                env=self.env(replica, replica.overrides),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        await self.wait_ready(replica)
        return replica

    async def wait_ready(self, replica: Replica, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=3) as client:
            while time.monotonic() < deadline:
                if not replica.running:
                    raise StackError(f"{replica.name} exited:\n{replica.tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{replica.url}/readyz")).status_code == 200:
                        return
                await asyncio.sleep(0.2)
        raise StackError(f"{replica.name} not ready after {timeout}s:\n{replica.tail()}")

    def kill(self, name: str) -> float:
        """SIGKILL: no drain, no commit, no goodbye to the group. Returns the unix time of the kill."""
        replica = self.replicas[name]
        assert replica.proc is not None and replica.running, f"{name} is not running"
        replica.proc.send_signal(signal.SIGKILL)
        killed_at = time.time()
        replica.proc.wait()
        return killed_at

    async def stop(self, name: str, timeout: float = 30.0) -> None:
        """SIGTERM and wait for the graceful shutdown (drain, commit, leave the group)."""
        replica = self.replicas[name]
        if replica.proc is None or not replica.running:
            return
        replica.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(replica.proc.wait, timeout)
        except subprocess.TimeoutExpired:
            replica.proc.kill()
            replica.proc.wait()
            raise StackError(f"{name} ignored SIGTERM for {timeout}s:\n{replica.tail()}") from None

    async def restart(self, name: str, **overrides: str) -> Replica:
        await self.stop(name)
        return await self.start(name, **overrides)

    async def baseline(self) -> None:
        """Every broker up, one ingest, one router, one notifier with the suite's settings, providers healthy."""
        self.providers.reset()
        for node in self.kafka.nodes:
            if not node.is_running():
                await asyncio.to_thread(self.kafka.start_node, node.node_id)
        for name, replica in self.replicas.items():
            if replica.running and (name not in BASELINE or replica.overrides):
                await self.stop(name)
        for name in BASELINE:
            if not self.replicas[name].running:
                await self.start(name)

    async def close(self) -> None:
        for name in REPLICAS:
            with contextlib.suppress(StackError):
                await self.stop(name)
        await asyncio.to_thread(self.kafka.stop)

    def url(self, name: str) -> str:
        return self.replicas[name].url

    async def metric(self, name: str, metric: str, **labels: str) -> float:
        """Sum of one metric's samples on a replica's /metrics whose labels include ``labels``."""
        async with httpx.AsyncClient(timeout=5) as client:
            text = (await client.get(f"{self.url(name)}/metrics")).text
        wanted = [f'{key}="{value}"' for key, value in labels.items()]
        total = 0.0
        for line in text.splitlines():
            head, _, value = line.rpartition(" ")
            if head.split("{")[0] == metric and all(part in head for part in wanted):
                total += float(value)
        return total
