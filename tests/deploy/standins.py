"""Local stand-ins for the compose file's third-party images, which come from registries CI cannot reach.

Each is built with podman on the Debian base that scripts/images.py makes, and honours what docker-compose.yml
asks of the image it replaces (environment, paths, health-check commands):
- kafka (for apache/kafka): Debian's JRE and the broker jars scripts/local_kafka.py fetches from Maven Central;
- postgres (for postgres:16-alpine): Debian bookworm's PostgreSQL 15;
- mailpit (for axllent/mailpit): the real Mailpit, built from its Go module with the Go toolchain (the module
  proxy here offers MAILPIT_VERSION, not the compose file's pin).
- prometheus, alertmanager (for prom/*): Debian bookworm's Prometheus 2.42 and Alertmanager 0.25, with wget.
The differences from the official images are listed in docs/deployment.md ("The compose stack in CI").
Layer caching keeps a rebuild with unchanged inputs to seconds; the Mailpit binary is kept in .cache/mailpit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import images  # noqa: E402
import local_kafka  # noqa: E402

FILES = Path(__file__).resolve().parent / "standins"
MAILPIT_MODULE = "github.com/axllent/mailpit"
MAILPIT_VERSION = "v1.27.11"
TAG = "localhost/alertrouter-standin-{name}:test"
# The compose file's image variable each stand-in is passed in.
VARIABLES = {
    "kafka": "KAFKA_IMAGE",
    "postgres": "POSTGRES_IMAGE",
    "mailpit": "MAILPIT_IMAGE",
    "prometheus": "PROMETHEUS_IMAGE",
    "alertmanager": "ALERTMANAGER_IMAGE",
}


@dataclass
class StandinReport:
    seconds: dict[str, float]
    environment: dict[str, str]


def mailpit_binary() -> Path:
    """Mailpit built once from its Go module (static, no cgo) and kept under .cache/mailpit."""
    binary = ROOT / ".cache" / "mailpit" / MAILPIT_VERSION / "mailpit"
    if binary.is_file():
        return binary
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").is_file() else None)
    if go is None:
        raise images.ImageError(
            "the Go toolchain builds Mailpit and is missing: put `go` on PATH or at /usr/local/go/bin/go "
            "(the one scripts/install_helm.sh uses for Helm)"
        )
    env = {**os.environ, "GOBIN": str(binary.parent), "CGO_ENABLED": "0"}
    result = subprocess.run(
        [go, "install", f"{MAILPIT_MODULE}@{MAILPIT_VERSION}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=1200,
        check=False,
    )
    if result.returncode != 0 or not binary.is_file():
        raise images.ImageError(f"building Mailpit {MAILPIT_VERSION} failed:\n{result.stderr[-3000:]}")
    return binary


def context_files(name: str, folder: Path) -> None:
    shutil.copy2(FILES / f"{name}.Containerfile", folder / "Containerfile")
    if name == "kafka":
        shutil.copytree(local_kafka.ensure_fetched(), folder / "libs")
        for script in ("kafka_run.py", "kafka_probe.py"):
            shutil.copy2(FILES / script, folder / script)
    elif name == "postgres":
        shutil.copy2(FILES / "postgres_run.sh", folder / "postgres_run.sh")
    elif name == "mailpit":
        shutil.copy2(mailpit_binary(), folder / "mailpit")


def build(name: str) -> str:
    tag = TAG.format(name=name)
    with tempfile.TemporaryDirectory(prefix=f"alertrouter-standin-{name}-") as folder:
        context_files(name, Path(folder))
        images.podman(
            "build",
            "--network",
            "host",
            "--layers",
            "--build-arg",
            f"BASE_IMAGE={images.BASE_IMAGE}",
            "-t",
            tag,
            folder,
        )
    return tag


def build_all() -> StandinReport:
    images.check_tools()
    images.ensure_base()
    seconds: dict[str, float] = {}
    environment: dict[str, str] = {}
    for name, variable in VARIABLES.items():
        started = time.monotonic()
        environment[variable] = build(name)
        seconds[name] = round(time.monotonic() - started, 1)
    return StandinReport(seconds, environment)
