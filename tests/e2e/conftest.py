"""The three services as separate processes, on their own Kafka broker, with the example configuration.

A broker of its own keeps this stack from consuming what other suites left on the session broker's topics.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path

import capture_server
import local_kafka
import pytest
import yaml

from tests.helpers import DatabaseFactory, free_port, free_port_pair

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TOKEN = "e2e-token"


@dataclass
class Stack:
    ingest: str
    router: str
    notifier: str
    capture: ThreadingHTTPServer
    logs: Path
    processes: dict[str, subprocess.Popen[bytes]]
    config_dir: Path

    @property
    def captured(self) -> list[dict[str, object]]:
        with capture_server.LOCK:
            return list(capture_server.CAPTURED)


def _config_copy(tmp: Path, capture_port: int) -> Path:
    """The example configuration, webhooks pointed at the capture server and without its maintenance windows:
    the tests would otherwise pass or fail with the hour they run at (ledger's is Sunday 02:00-04:00 Berlin)."""
    target = tmp / "ownership"
    shutil.copytree(ROOT / "examples" / "ownership", target)
    for file in target.glob("*.y*ml"):
        document = yaml.safe_load(file.read_text().replace("127.0.0.1:18090", f"127.0.0.1:{capture_port}"))
        for service in document.get("services", []):
            service.pop("maintenance_windows", None)
        file.write_text(yaml.safe_dump(document, sort_keys=False))
    return target


def _wait_ready(name: str, url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{name} exited with {proc.returncode}:\n{log.read_text()[-4000:]}", pytrace=False)
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    pytest.fail(f"{name} not ready after {timeout}s:\n{log.read_text()[-4000:]}", pytrace=False)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, databases: DatabaseFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("e2e")
    database_url = databases.create()
    kafka = local_kafka.LocalKafka(tmp / "kafka", nodes=1, base_port=free_port_pair())
    kafka.start()
    capture_port = free_port()
    capture = capture_server.serve(capture_port)
    ports = {"ingest": free_port(), "router": free_port(), "notifier": free_port()}
    env = dict(os.environ)
    env.update(
        {
            "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "DATABASE_URL": database_url,
            "ALERTROUTER_CONFIG": str(tmp / "ownership"),
            "ALERTROUTER_API_TOKENS": f"{hashlib.sha256(TOKEN.encode()).hexdigest()}:read+write",
            "KAFKA_TOPIC_PARTITIONS": "3",
            "INGEST_PORT": str(ports["ingest"]),
            "ROUTER_PORT": str(ports["router"]),
            "NOTIFIER_PORT": str(ports["notifier"]),
            "INGEST_HOST": "127.0.0.1",
            "ROUTER_HOST": "127.0.0.1",
            "NOTIFIER_HOST": "127.0.0.1",
            "NOTIFIER_ROUTER_URL": f"http://127.0.0.1:{ports['router']}",
            "NOTIFIER_ROUTER_API_TOKEN": TOKEN,
            "ROUTER_NOTIFIER_URL": f"http://127.0.0.1:{ports['notifier']}",
            "ROUTER_NOTIFIER_API_TOKEN": TOKEN,
            "NOTIFIER_WEBHOOK_SIGNING_SECRET": "e2e-signing-secret",
            "NOTIFIER_ACK_SIGNING_SECRET": "e2e-ack-secret",
        }
    )
    for command in (["alertrouter-router", "migrate"], ["alertrouter-notifier", "migrate"]):
        subprocess.run([str(BIN / command[0]), *command[1:]], env=env, check=True, capture_output=True)
    processes: dict[str, subprocess.Popen[bytes]] = {}
    config_dir = _config_copy(tmp, capture_port)
    commands = {
        "ingest": ["alertrouter-ingest"],
        "router": ["alertrouter-router", "run"],
        "notifier": ["alertrouter-notifier", "run"],
    }
    try:
        for name, command in commands.items():
            log = tmp / f"{name}.log"
            proc = subprocess.Popen(
                [str(BIN / command[0]), *command[1:]], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
            )
            processes[name] = proc
            _wait_ready(name, f"http://127.0.0.1:{ports[name]}", proc, log)
        yield Stack(
            ingest=f"http://127.0.0.1:{ports['ingest']}",
            router=f"http://127.0.0.1:{ports['router']}",
            notifier=f"http://127.0.0.1:{ports['notifier']}",
            capture=capture,
            logs=tmp,
            processes=processes,
            config_dir=config_dir,
        )
    finally:
        for proc in processes.values():
            proc.terminate()
        for proc in processes.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        capture.shutdown()
        kafka.stop()
