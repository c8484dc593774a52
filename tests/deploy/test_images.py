"""The real Dockerfile, built with podman on a Debian base, and its images run: health, readiness, hardening,
contents, and one alert from ingest to a captured delivery with all three services in containers.

scripts/images.py builds the images (the base image is made once from Debian's packages and kept in podman's
storage). The containers use the host network so they reach this test session's Kafka broker and PostgreSQL on
loopback; each listens on a free port. What this proves and what it cannot is in docs/deployment.md ("Images in CI").
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import DatabaseFactory, free_port, free_port_pair

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import capture_server  # noqa: E402
import images  # noqa: E402
import local_kafka  # noqa: E402

# The first run on a fresh machine builds the Debian base (~150 s) and three images (~90 s).
pytestmark = [pytest.mark.images, pytest.mark.timeout(900)]
TOKEN = "image-token"
# What each image must not carry: the other services, and (ingest) any database stack.
FOREIGN = {
    "ingest": ["alertrouter_router", "alertrouter_notifier", "sqlalchemy", "asyncpg", "alembic"],
    "router": ["alertrouter_ingest", "alertrouter_notifier"],
    "notifier": ["alertrouter_ingest", "alertrouter_router"],
}
OWN = {
    "ingest": ["alertrouter_ingest", "aiokafka"],
    "router": ["alertrouter_router", "asyncpg"],
    "notifier": ["alertrouter_notifier", "asyncpg"],
}


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return images.podman(*args, check=check, timeout=timeout)


def base_env(kafka: str, database_url: str, ports: dict[str, int]) -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "DATABASE_URL": database_url,
        "ALERTROUTER_API_TOKENS": f"{hashlib.sha256(TOKEN.encode()).hexdigest()}:read+write",
        "KAFKA_TOPIC_PARTITIONS": "3",
        "LOG_FORMAT": "console",
        "INGEST_HOST": "127.0.0.1",
        "ROUTER_HOST": "127.0.0.1",
        "NOTIFIER_HOST": "127.0.0.1",
        "INGEST_PORT": str(ports["ingest"]),
        "ROUTER_PORT": str(ports["router"]),
        "NOTIFIER_PORT": str(ports["notifier"]),
        "NOTIFIER_ROUTER_URL": f"http://127.0.0.1:{ports['router']}",
        "NOTIFIER_ROUTER_API_TOKEN": TOKEN,
        "NOTIFIER_WEBHOOK_SIGNING_SECRET": "image-signing-secret",
        "NOTIFIER_ACK_SIGNING_SECRET": "image-ack-secret",
        "ALERTROUTER_CONFIG": "/etc/alertrouter/config",
    }


class Containers:
    """Containers started by one test, hardened as in the chart; removed at the end whatever happens."""

    def __init__(self, env: dict[str, str], config_dir: Path) -> None:
        self.env = env
        self.config_dir = config_dir
        self.names: list[str] = []

    def run(self, service: str, *args: str, detach: bool = True) -> subprocess.CompletedProcess[str]:
        name = f"alertrouter-test-{service}-{uuid.uuid4().hex[:8]}"
        self.names.append(name)
        command = ["run", "--name", name, "--network", "host", "--read-only", "--tmpfs", "/tmp"]
        command += ["--cap-drop", "ALL", "--security-opt", "no-new-privileges"]
        command += ["-v", f"{self.config_dir}:/etc/alertrouter/config:ro"]
        for key, value in self.env.items():
            command += ["-e", f"{key}={value}"]
        command += ["-d"] if detach else []
        return podman(*command, images.TAG.format(service=service), *args, check=not detach, timeout=300)

    def logs(self) -> str:
        parts = []
        for name in self.names:
            logs = podman("logs", name, check=False)
            parts.append(f"--- {name}\n{(logs.stdout + logs.stderr)[-3000:]}")
        return "\n".join(parts)

    def remove(self) -> None:
        for name in self.names:
            podman("rm", "-f", "-t", "10", name, check=False)


@pytest.fixture(scope="module")
def own_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A broker of its own: the containers' consumers must not read what other suites left on the session broker."""
    kafka = local_kafka.LocalKafka(tmp_path_factory.mktemp("kafka-images"), nodes=1, base_port=free_port_pair())
    kafka.start()
    try:
        yield kafka.bootstrap_servers
    finally:
        kafka.stop()


@pytest.fixture
def stack_env(
    own_kafka: str, databases: DatabaseFactory, tmp_path: Path
) -> Iterator[tuple[Containers, dict[str, int], int]]:
    ports = {"ingest": free_port(), "router": free_port(), "notifier": free_port()}
    capture_port = free_port()
    config = tmp_path / "ownership"
    shutil.copytree(ROOT / "examples" / "ownership", config)
    for file in config.glob("*.y*ml"):
        file.write_text(file.read_text().replace("127.0.0.1:18090", f"127.0.0.1:{capture_port}"))
    config.chmod(0o755)
    for file in config.iterdir():
        file.chmod(0o644)
    containers = Containers(base_env(own_kafka, databases.create(), ports), config)
    try:
        yield containers, ports, capture_port
    finally:
        containers.remove()


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_ready(url: str, containers: Containers, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            last = get(f"{url}/readyz")
            if last[0] == 200:
                return
        time.sleep(0.5)
    pytest.fail(f"{url} not ready after {timeout}s (last: {last}):\n{containers.logs()}", pytrace=False)


def test_each_image_runs_hardened_answers_health_and_readiness_and_holds_only_its_service(
    built: images.BuildReport, stack_env: tuple[Containers, dict[str, int], int]
) -> None:
    containers, ports, _ = stack_env
    containers.run("router", "migrate", detach=False)
    containers.run("notifier", "migrate", detach=False)
    roles = {"ingest": (), "router": ("run",), "notifier": ("run",)}
    for service, role in roles.items():
        containers.run(service, *role)
    for service in roles:
        url = f"http://127.0.0.1:{ports[service]}"
        wait_ready(url, containers)
        assert get(f"{url}/healthz")[0] == 200
        status, body = get(f"{url}/readyz")
        assert status == 200 and "ready" in body
    for name, service in zip(containers.names[2:], roles, strict=True):
        assert podman("exec", name, "id", "-u").stdout.strip() == "10001", f"{service} runs as root"
        writes = podman("exec", name, "sh", "-c", "touch /app/x || touch /x", check=False)
        assert writes.returncode != 0 and "Read-only file system" in writes.stderr, writes.stderr
        assert podman("exec", name, "sh", "-c", "touch /tmp/x").returncode == 0, "/tmp stays writable"
    for service in roles:
        probe = (
            "import importlib.util as u, sys; print(json.dumps({m: u.find_spec(m) is not None for m in sys.argv[1:]}))"
        )
        found = podman(
            "run",
            "--rm",
            "--network",
            "none",
            "--entrypoint",
            "python",
            images.TAG.format(service=service),
            "-c",
            "import json; " + probe,
            *FOREIGN[service],
            *OWN[service],
        )
        present = json.loads(found.stdout)
        assert [m for m in FOREIGN[service] if present[m]] == [], f"{service} carries another service's code"
        assert all(present[m] for m in OWN[service]), present
    assert all(size > 0 for size in built.sizes.values())


def test_one_alert_goes_from_ingest_to_a_captured_delivery_inside_containers(
    built: images.BuildReport, stack_env: tuple[Containers, dict[str, int], int]
) -> None:
    containers, ports, capture_port = stack_env
    capture = capture_server.serve(capture_port)
    try:
        containers.run("router", "migrate", detach=False)
        containers.run("notifier", "migrate", detach=False)
        for service, role in {"ingest": (), "router": ("run",), "notifier": ("run",)}.items():
            containers.run(service, *role)
            wait_ready(f"http://127.0.0.1:{ports[service]}", containers)
        payload = json.loads((ROOT / "examples" / "alertmanager-checkout.json").read_text())
        marker = f"checkout-{uuid.uuid4().hex[:8]}"
        payload = copy.deepcopy(payload)
        payload["alerts"][0]["labels"]["instance"] = marker
        request = urllib.request.Request(
            f"http://127.0.0.1:{ports['ingest']}/v1/alertmanager/dev-alertmanager",
            data=json.dumps(payload).encode(),
            headers={"content-type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 202
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with capture_server.LOCK:
                delivered = [c for c in capture_server.CAPTURED if marker in json.dumps(c["body"])]
            if delivered:
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"no delivery for {marker} at the capture server:\n{containers.logs()}", pytrace=False)
        assert len(delivered) == 1
        assert any(h.lower() == "x-alertrouter-signature" for h in delivered[0]["headers"])
    finally:
        capture.shutdown()
