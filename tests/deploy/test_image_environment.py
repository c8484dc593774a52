"""The image's Python environment, built without Docker by replaying the Dockerfile's own steps.

For each service: the build context is laid out as Docker would send it (.dockerignore applied), the builder's
COPY instructions are replayed into a scratch directory, the builder's two `uv sync` commands are run exactly as
written (minus the BuildKit mount options), and the runtime stage's import smoke check runs against the result.
This catches what a static check cannot: a COPY that misses a file the service imports, a dependency declared in
the wrong member, or an image that quietly contains the other services.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.dockerfile_model import (
    DOCKERFILE,
    SERVICES,
    Stage,
    context_files,
    dockerignore_patterns,
    ignored,
    parse_dockerfile,
)
from tests.deploy.support import ROOT

# Packages that only some services may carry: the image of a service without a database has no database driver.
FORBIDDEN = {
    "ingest": ("alertrouter_router", "alertrouter_notifier", "sqlalchemy", "asyncpg", "alembic"),
    "router": ("alertrouter_ingest", "alertrouter_notifier"),
    "notifier": ("alertrouter_ingest", "alertrouter_router"),
}


def stages() -> dict[str, Stage]:
    return {stage.name: stage for stage in parse_dockerfile(DOCKERFILE.read_text())[1]}


def build_context(tmp_path: Path) -> Path:
    """The files `docker build .` would send, after .dockerignore."""
    context = tmp_path / "context"
    patterns = dockerignore_patterns()
    for path in context_files():
        if not ignored(path, patterns):
            target = context / path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / path, target)
    return context


def replay_copies(stage: Stage, context: Path, workdir: Path, service: str) -> None:
    for instruction in stage.all("COPY"):
        if "--from=" in instruction.args:
            continue
        *sources, destination = instruction.args.replace("${SERVICE}", service).split()
        for source in sources:
            origin = context / source.rstrip("/")
            target = workdir / destination.rstrip("/") if destination not in ("./", ".") else workdir
            if origin.is_dir():  # Docker copies a folder's contents into the destination
                shutil.copytree(origin, target, dirs_exist_ok=True)
            else:
                target = target / origin.name if destination.endswith("/") else target
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target)


def uv_commands(stage: Stage, service: str) -> list[list[str]]:
    commands = []
    for run in stage.all("RUN"):
        if "uv sync" in run.args:
            command = run.args[run.args.index("uv sync") :].replace("${SERVICE}", service)
            commands.append([part.strip('"') for part in command.split()])
    return commands


def builder_env(stage: Stage, venv: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "VIRTUAL_ENV"))}
    for instruction in stage.all("ENV"):
        env.update(re.findall(r"(\w+)=(\S+)", instruction.args))
    env["UV_PROJECT_ENVIRONMENT"] = str(venv)
    env["UV_PYTHON"] = os.path.realpath(sys.executable)
    env["UV_LINK_MODE"] = "hardlink"
    return env


@pytest.mark.parametrize("service", SERVICES)
def test_the_image_environment_builds_and_imports(service: str, tmp_path: Path) -> None:
    plan = stages()
    context = build_context(tmp_path)
    workdir, venv = tmp_path / "src", tmp_path / "venv"
    workdir.mkdir()
    for name in (
        "uv.lock",
        "pyproject.toml",
        "shared/pyproject.toml",
        *(f"services/{s}/pyproject.toml" for s in SERVICES),
    ):
        # The dependency layer bind-mounts these files; the project layer copies them.
        (workdir / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(context / name, workdir / name)
    env = builder_env(plan["builder"], venv)
    dependency_layer, project_layer = uv_commands(plan["builder"], service)
    for command in (dependency_layer, None, project_layer):
        if command is None:
            replay_copies(plan["builder"], context, workdir, service)
            continue
        result = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, f"{' '.join(command)}:\n{result.stderr}"

    python = venv / "bin" / "python"
    smoke = next(r.args for r in plan["runtime"].all("RUN") if "import_module" in r.args)
    code = re.search(r'python -c "(.+?)" "\$\{SERVICE\}"', smoke)
    assert code, smoke
    imported = subprocess.run(
        [str(python), "-c", code.group(1), service], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert imported.returncode == 0, imported.stderr
    assert (venv / "bin" / f"alertrouter-{service}").exists(), "the console script the image runs"
    shutil.rmtree(workdir)  # the runtime stage has no source tree: the environment must stand alone
    imported_alone = subprocess.run(
        [str(python), "-c", code.group(1), service], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert imported_alone.returncode == 0, f"the environment needs the source tree:\n{imported_alone.stderr}"
    for module in FORBIDDEN[service]:
        found = subprocess.run([str(python), "-c", f"import {module}"], capture_output=True, cwd=tmp_path)
        assert found.returncode != 0, f"the {service} image contains {module}"
