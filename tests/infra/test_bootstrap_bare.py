"""scripts/bootstrap.sh on a bare Debian: a container of the minimal bookworm image (Debian's python3 only) gets
Java, Maven, PostgreSQL, Alertmanager, pip, uv and the Kafka jars from the script alone, and its --check then passes.

Helm is skipped (BOOTSTRAP_SKIP_HELM=1, as `make dev` does): it is built with Go, which the README names as a
prerequisite of the machine. The machine's own extra CA certificates are given to the container, as a real machine
of this kind has them.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import images  # noqa: E402

pytestmark = [pytest.mark.images, pytest.mark.timeout(900)]
MACHINE_CAS = Path("/usr/local/share/ca-certificates")
FILES = ("bootstrap.sh", "local_kafka.py", "local_kafka_security.py", "kafka-pom.xml", "install_helm.sh")


def test_bootstrap_installs_everything_on_a_bare_debian(tmp_path: Path) -> None:
    try:
        images.check_tools()
        images.ensure_base()
    except images.ImageError as error:
        pytest.fail(str(error), pytrace=False)
    (tmp_path / "scripts").mkdir()
    for name in FILES:
        shutil.copy2(ROOT / "scripts" / name, tmp_path / "scripts" / name)
    trust = ""
    volumes = ["-v", f"{tmp_path}:/repo"]
    if MACHINE_CAS.is_dir() and any(MACHINE_CAS.iterdir()):
        volumes += ["-v", f"{MACHINE_CAS}:{MACHINE_CAS}:ro"]
        # Java's trust store is built from these when ca-certificates-java is installed (Maven needs it).
        trust = "apt-get update -qq && apt-get install -y -qq ca-certificates-java >/dev/null && "
        trust += "update-ca-certificates >/dev/null && "
    script = (
        "command -v java mvn uv initdb; test $? -ne 0 || { echo 'not bare'; exit 3; }; "
        f"{trust}bash scripts/bootstrap.sh && bash scripts/bootstrap.sh --check && "
        "start=$(date +%s) && bash scripts/bootstrap.sh && echo second-run=$(( $(date +%s) - start ))s"
    )
    started = time.monotonic()
    result = images.podman(
        "run",
        "--rm",
        "--network",
        "host",
        *volumes,
        "-w",
        "/repo",
        "-e",
        "BOOTSTRAP_SKIP_HELM=1",
        images.BASE_IMAGE,
        "bash",
        "-c",
        script,
        check=False,
        timeout=840,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert "installing Debian packages: openjdk-17-jre-headless maven postgresql prometheus-alertmanager" in output
    assert "installing uv from PyPI" in output
    assert "bootstrap: ok: java 17, maven, postgresql, alertmanager, promtool, openssl, uv, Kafka" in output
    assert (tmp_path / ".cache" / "kafka").is_dir()
    second = output.rsplit("second-run=", 1)[1].split("s", 1)[0]
    assert int(second) <= 5, "a second run installs nothing and returns at once"
    print(f"\nbare Debian bootstrap: {time.monotonic() - started:.0f} s")
