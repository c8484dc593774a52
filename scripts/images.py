"""Build the three service images with podman, on a Debian base made from Debian's packages.

Why: no container registry is reachable here (python:3.11-slim and the uv image cannot be pulled), yet the real
Dockerfile must be built and run. The base image is a debootstrap'ed bookworm with Debian's Python 3.11 and the
machine's CA bundle; the uv image holds the uv binary this machine installed from PyPI. Both are made once and
kept in podman's storage; the service images reuse podman's layer cache, so a rebuild with unchanged sources is
quick. Standard library only. Needs root, podman, runc and debootstrap (`scripts/bootstrap.sh --containers`).

CLI: ``python scripts/images.py build [--service S ...] [--report FILE]`` prints the tags, the seconds each step
took and the image sizes as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("ingest", "router", "notifier")
BASE_IMAGE = "localhost/alertrouter-base:bookworm"
UV_IMAGE = "localhost/alertrouter-uv:local"
TAG = "localhost/alertrouter-{service}:test"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
DEBIAN_PYTHON = "/usr/bin/python3"
# runc: crun refuses this sandbox's cgroup layout; host network: RUN steps reach the package registries.
PODMAN = ("podman", "--runtime", "runc")


class ImageError(RuntimeError):
    """Says what is missing or what failed; the CLI prints it."""


@dataclass
class BuildReport:
    seconds: dict[str, float]
    sizes: dict[str, int]
    tags: dict[str, str]


def podman(*args: str, check: bool = True, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*PODMAN, *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise ImageError(f"podman {' '.join(args[:3])} … failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return result


def check_tools() -> None:
    missing = [tool for tool in ("podman", "runc", "debootstrap") if shutil.which(tool) is None]
    if missing:
        raise ImageError(f"missing {', '.join(missing)}: run `bash scripts/bootstrap.sh --containers` as root")
    if os.geteuid() != 0:
        raise ImageError("building and running the images needs root (podman's rootful storage and runc)")


def image_exists(tag: str) -> bool:
    return podman("image", "exists", tag, check=False).returncode == 0


def debian_mirror() -> str:
    """The mirror apt already uses (deb822 or one-line sources), so debootstrap needs no other host."""
    for path in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]:
        if not path.is_file():
            continue
        text = path.read_text()
        for match in re.finditer(r"^URIs:\s*(\S+)|^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+bookworm\s", text, re.MULTILINE):
            uri = match.group(1) or match.group(2)
            if "security" not in uri:
                return uri
    return "http://deb.debian.org/debian"


def ensure_base() -> None:
    """bookworm minbase + python3 + the machine's CA bundle, imported as BASE_IMAGE (skipped when present)."""
    if image_exists(BASE_IMAGE):
        return
    with tempfile.TemporaryDirectory(prefix="alertrouter-rootfs-") as rootfs:
        command = ["debootstrap", "--variant=minbase", "--include=python3,ca-certificates", "bookworm", rootfs]
        result = subprocess.run([*command, debian_mirror()], capture_output=True, text=True, timeout=1800, check=False)
        if result.returncode != 0:
            raise ImageError(f"debootstrap failed:\n{(result.stdout + result.stderr)[-4000:]}")
        shutil.rmtree(Path(rootfs) / "var/cache/apt/archives", ignore_errors=True)
        # Registries are reached through TLS that only this machine's bundle trusts (see docs/deployment.md).
        shutil.copyfile(CA_BUNDLE, Path(rootfs) / CA_BUNDLE.lstrip("/"))
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(
            [*PODMAN, "import", "--change", 'CMD ["/bin/bash"]', "-", BASE_IMAGE],
            stdin=tar.stdout,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        tar.wait()
        if imported.returncode != 0 or tar.returncode != 0:
            raise ImageError(f"podman import failed:\n{imported.stderr[-2000:]}")


def uv_binary() -> Path:
    """The uv executable itself (not a pyenv shim): the one PyPI's uv wheel installed."""
    found = subprocess.run(
        [sys.executable, "-c", "import uv; print(uv.find_uv_bin())"], capture_output=True, text=True, check=False
    )
    candidates = [found.stdout.strip()] if found.returncode == 0 else []
    candidates += [str(Path(d) / "uv") for d in os.environ.get("PATH", "").split(os.pathsep)]
    candidates += [str(p) for p in Path.home().glob(".pyenv/versions/*/bin/uv")]
    for candidate in candidates:
        path = Path(candidate)
        if path.is_file() and path.read_bytes()[:4] == b"\x7fELF":
            return path
    raise ImageError("no uv executable found (pip install uv)")


def ensure_uv_image() -> None:
    """An image with /uv only, the layout of the official uv image the Dockerfile copies from."""
    if image_exists(UV_IMAGE):
        return
    with tempfile.TemporaryDirectory(prefix="alertrouter-uv-") as folder:
        shutil.copy2(uv_binary(), Path(folder) / "uv")
        tar = subprocess.Popen(["tar", "-C", folder, "-c", "uv"], stdout=subprocess.PIPE)
        subprocess.run([*PODMAN, "import", "-", UV_IMAGE], stdin=tar.stdout, capture_output=True, check=True)
        tar.wait()


def build(service: str) -> str:
    tag = TAG.format(service=service)
    args = {
        "SERVICE": service,
        "BASE_IMAGE": BASE_IMAGE,
        "UV_IMAGE": UV_IMAGE,
        "PYTHON": DEBIAN_PYTHON,
        "SSL_CERT_FILE": CA_BUNDLE,
    }
    build_args = [item for key, value in args.items() for item in ("--build-arg", f"{key}={value}")]
    podman("build", "--network", "host", "--layers", *build_args, "-t", tag, "-f", str(ROOT / "Dockerfile"), str(ROOT))
    return tag


def image_size(tag: str) -> int:
    return int(podman("image", "inspect", "--format", "{{.Size}}", tag).stdout.strip())


def build_all(services: tuple[str, ...] = SERVICES) -> BuildReport:
    check_tools()
    seconds: dict[str, float] = {}
    started = time.monotonic()
    ensure_base()
    seconds["base"] = round(time.monotonic() - started, 1)
    started = time.monotonic()
    ensure_uv_image()
    seconds["uv"] = round(time.monotonic() - started, 1)
    tags: dict[str, str] = {}
    for service in services:
        started = time.monotonic()
        tags[service] = build(service)
        seconds[service] = round(time.monotonic() - started, 1)
    return BuildReport(seconds, {service: image_size(tag) for service, tag in tags.items()}, tags)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("command", choices=["build"])
    parser.add_argument("--service", action="append", choices=SERVICES)
    parser.add_argument("--report", type=Path, help="also write the JSON report here")
    args = parser.parse_args(argv)
    try:
        report = build_all(tuple(args.service or SERVICES))
    except ImageError as error:
        print(f"images: {error}", file=sys.stderr)
        return 1
    text = json.dumps({"seconds": report.seconds, "bytes": report.sizes, "tags": report.tags}, indent=1)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
