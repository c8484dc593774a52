"""The pods `helm template` renders, started as real containers with `podman kube play`, answer their probes.

Podman is not a cluster. What is changed before playing, and why (each is a podman limitation, not the chart's):
- only ConfigMaps, Secrets and Deployments are played: podman runs no Services, Jobs, hooks or PodDisruptionBudgets;
  the migrations Job's two commands run as plain containers of the same images first;
- the Secret becomes a podman secret holding its `data` map (podman 4.3 reads secretKeyRef from its own store);
- host network, because the broker and PostgreSQL of the test listen on loopback only; so the `ports:` lists are
  dropped (podman refuses port mappings on the host network) and the probes name the port by number;
- replicas 1, and router-consumer is played after router-api is stopped, since both listen on 8081.
What this proves and what only a real cluster does is in docs/deployment.md ("Images in CI").
"""

from __future__ import annotations

import json
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.support import CHART, DEFAULT_KUBE_VERSION, run_helm
from tests.helpers import DatabaseFactory, free_port_pair

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import images  # noqa: E402
import local_kafka  # noqa: E402

# The first run on a fresh machine builds the Debian base (~150 s) and three images (~90 s).
pytestmark = [pytest.mark.images, pytest.mark.timeout(900)]
RELEASE = "kp"
PORTS = {"ingest": 8080, "router-api": 8081, "notifier": 8082, "router-consumer": 8081}


def rendered(kafka: str, database_url: str) -> list[dict[str, Any]]:
    args = ["template", RELEASE, str(CHART), "--kube-version", DEFAULT_KUBE_VERSION]
    args += ["--set", "image.registry=localhost", "--set", "image.repository=alertrouter", "--set", "image.tag=test"]
    args += ["--set", "image.pullPolicy=Never", "--set", f"kafka.bootstrapServers={kafka}"]
    args += ["--set", "kafka.topicReplicationFactor=1", "--set", "kafka.topicPartitions=3"]
    args += ["--set", f"secrets.databaseUrl={database_url}", "--set", "migrations.enabled=false"]
    for file in sorted((ROOT / "examples" / "ownership").glob("*.yaml")):
        args += ["--set-file", f"config.files.{file.stem}\\.yaml={file}"]
    return [doc for doc in yaml.safe_load_all(run_helm(*args).stdout) if doc]


def for_podman(manifests: list[dict[str, Any]], components: set[str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The objects podman can play (see the module docstring), and the Secrets to store as podman secrets."""
    played: list[dict[str, Any]] = []
    secrets: dict[str, Any] = {}
    for manifest in manifests:
        kind, labels = manifest["kind"], manifest["metadata"].get("labels", {})
        if kind == "Secret":
            secrets[manifest["metadata"]["name"]] = manifest.get("data") or {}
        elif kind == "ConfigMap":
            played.append(manifest)
        elif kind == "Deployment" and labels.get("app.kubernetes.io/component") in components:
            manifest["spec"]["replicas"] = 1
            for container in manifest["spec"]["template"]["spec"]["containers"]:
                port = container.pop("ports")[0]["containerPort"]
                for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                    container[probe]["httpGet"]["port"] = port
            played.append(manifest)
    return played, secrets


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def probe(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


class Played:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: list[Path] = []
        self.secrets: list[str] = []

    def secret(self, name: str, data: dict[str, Any]) -> None:
        path = self.folder / f"secret-{name}.json"
        path.write_text(json.dumps(data))
        images.podman("secret", "rm", name, check=False)
        images.podman("secret", "create", name, str(path))
        self.secrets.append(name)

    def play(self, manifests: list[dict[str, Any]], name: str) -> None:
        path = self.folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump_all(manifests))
        self.files.append(path)
        images.podman("kube", "play", "--network", "host", str(path), timeout=180)

    def down(self, path: Path) -> None:
        images.podman("kube", "down", str(path), check=False, timeout=120)

    def logs(self) -> str:
        names = images.podman("ps", "-a", "--format", "{{.Names}}", check=False).stdout.split()
        out = []
        for name in (n for n in names if n.startswith(f"{RELEASE}-alertrouter")):
            logs = images.podman("logs", name, check=False)
            out.append(f"--- {name}\n{(logs.stdout + logs.stderr)[-2500:]}")
        return "\n".join(out)

    def close(self) -> None:
        for path in self.files:
            self.down(path)
        for name in self.secrets:
            images.podman("secret", "rm", name, check=False)


@pytest.fixture
def played(tmp_path: Path) -> Iterator[Played]:
    busy = [port for port in sorted(set(PORTS.values())) if not port_free(port)]
    if busy:
        pytest.fail(f"ports {busy} are in use: the played pods listen on the chart's ports (stop `make dev`)")
    session = Played(tmp_path)
    try:
        yield session
    finally:
        session.close()


def wait_probes(component: str, session: Played, timeout: float = 120) -> None:
    base = f"http://127.0.0.1:{PORTS[component]}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe(f"{base}/healthz") == 200 and probe(f"{base}/readyz") == 200:
            return
        time.sleep(0.5)
    pytest.fail(f"{component}: probes not answering 200 after {timeout}s:\n{session.logs()}", pytrace=False)


def test_rendered_pods_start_and_answer_their_probes(
    built: images.BuildReport, tmp_path_factory: pytest.TempPathFactory, databases: DatabaseFactory, played: Played
) -> None:
    kafka = local_kafka.LocalKafka(tmp_path_factory.mktemp("kafka-kube"), nodes=1, base_port=free_port_pair())
    kafka.start()
    try:
        database_url = databases.create()
        env = ["--network", "host", "-e", f"DATABASE_URL={database_url}"]
        for service in ("router", "notifier"):  # the migrations Job's commands
            images.podman("run", "--rm", *env, images.TAG.format(service=service), "migrate", timeout=180)
        manifests = rendered(kafka.bootstrap_servers, database_url)
        first, secrets = for_podman(manifests, {"ingest", "router-api", "notifier"})
        for name, data in secrets.items():
            played.secret(name, data)
        played.play(first, "first")
        for component in ("ingest", "router-api", "notifier"):
            wait_probes(component, played)
        played.down(played.files[0])  # frees 8081 for the consumer
        consumer, _ = for_podman(rendered(kafka.bootstrap_servers, database_url), {"router-consumer"})
        played.play(consumer, "consumer")
        wait_probes("router-consumer", played)
        containers = images.podman("ps", "--format", "{{.Names}} {{.Image}}").stdout
        assert (
            f"{RELEASE}-alertrouter-router-consumer" in containers and "localhost/alertrouter-router:test" in containers
        )
        name = next(n for n in containers.split() if n.endswith("-router-consumer"))
        assert images.podman("exec", name, "id", "-u").stdout.strip() == "10001", "runs as uid 10001"
        writes = images.podman("exec", name, "touch", "/app/x", check=False)
        assert writes.returncode != 0 and "Read-only file system" in writes.stderr, "readOnlyRootFilesystem applies"
    finally:
        kafka.stop()
