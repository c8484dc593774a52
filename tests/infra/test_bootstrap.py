"""scripts/bootstrap.sh: the one installer behind `make dev`, `make test` and `.ci/run` finds what is there, names
what is missing, and says how to install it when it cannot (not root)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP = ROOT / "scripts" / "bootstrap.sh"
# What the script itself needs from the machine; everything else is what it checks for.
BASE_TOOLS = ("bash", "sed", "awk", "cat", "id", "dirname", "grep", "compgen", "printf", "python3", "uv", "env")


def run(*args: str, env: dict[str, str] | None = None, user: int | None = None) -> subprocess.CompletedProcess[str]:
    command = ["bash", str(BOOTSTRAP), *args]
    if user is not None:
        setpriv = shutil.which("setpriv")
        assert setpriv, "setpriv (util-linux) is needed to run the bootstrap as another user"
        command = [setpriv, f"--reuid={user}", f"--regid={user}", "--clear-groups", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, check=False, cwd=ROOT)


def bare_path(tmp_path: Path) -> dict[str, str]:
    """An environment whose PATH holds only the script's own tools: no java, mvn, openssl or alertmanager."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in BASE_TOOLS:
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    return {"PATH": str(bin_dir), "HOME": str(tmp_path), "LANG": "C.UTF-8"}


def test_check_passes_on_a_bootstrapped_machine_and_names_each_component() -> None:
    """`make test` ran the bootstrap before this suite, so every required component must be found."""
    result = run("--check", "--containers")
    assert result.returncode == 0, result.stdout + result.stderr
    line = result.stdout.strip().splitlines()[-1]
    for component in (
        "java",
        "maven",
        "postgresql",
        "alertmanager",
        "promtool",
        "openssl",
        "uv",
        "Kafka",
        "Helm",
        "podman",
        "dnsname",
    ):
        assert component in line, line
    assert re.search(r"java (\d+)", line) and int(re.search(r"java (\d+)", line).group(1)) >= 17  # type: ignore[union-attr]


def test_check_names_what_is_missing_and_installs_nothing(tmp_path: Path) -> None:
    env = bare_path(tmp_path)
    result = run("--check", "--browser", env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    missing = result.stdout
    for package in ("openjdk-17-jre-headless", "maven", "prometheus-alertmanager", "openssl", "chromium"):
        assert package in missing, missing
    assert "prometheus " in missing or missing.rstrip().endswith("prometheus"), missing  # for promtool
    assert "chromium-driver" in missing
    assert "run scripts/bootstrap.sh" in missing
    assert "installing" not in result.stdout + result.stderr


def test_not_root_gets_the_apt_command_instead_of_a_failed_install() -> None:
    with tempfile.TemporaryDirectory() as tmp:  # pytest's tmp_path is private to root; nobody must reach the tools
        Path(tmp).chmod(0o755)
        result = run(env=bare_path(Path(tmp)), user=65534)  # nobody
    assert result.returncode == 1, result.stdout + result.stderr
    message = result.stderr
    assert "not running as root" in message
    command = next(line for line in message.splitlines() if "apt-get install" in line)
    for package in ("openjdk-17-jre-headless", "maven", "prometheus-alertmanager"):
        assert package in command, command


def test_unknown_option_is_refused() -> None:
    result = run("--frobnicate")
    assert result.returncode == 2
    assert "unknown option --frobnicate" in result.stderr


def test_every_entry_point_runs_the_same_bootstrap() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = {m.group(1): m.group(2) for m in re.finditer(r"^([a-z-]+):[^\n]*\n((?:\t[^\n]*\n)+)", makefile, re.M)}
    assert "scripts/bootstrap.sh" in targets["bootstrap"]
    assert "bash scripts/bootstrap.sh --containers" in targets["test"]
    assert "scripts/bootstrap.sh" in targets["dev"]
    assert "bash scripts/bootstrap.sh" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in quick_start.strip().splitlines()]
    assert commands == ["make dev", "make test"]
