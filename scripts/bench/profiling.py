"""Where the hot path's CPU goes: py-spy attached to each service while a fixed rate of alerts flows.

py-spy samples from outside (no code change, ``--nonblocking`` so the target is never paused); its raw output
is one collapsed stack per line (``outer;...;leaf count``, frames ``function (path:line)``). ``summarise`` turns
that into shares by package and by function, so the report says what dominates from the samples themselves.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .context import BenchContext
from .httpclient import Pool
from .load import RequestFactory, open_loop
from .procstats import process_tree
from .results import FrameShare, ProfileRun
from .stack import Service

FRAME = re.compile(r"^(?P<function>.*?) \((?P<path>[^()]*?)(?::\d+)?\)$")
SAMPLING_HZ = 100
# Waiting for I/O in the event loop: py-spy cannot always tell it from running, so it is counted as idle.
IDLE_LEAVES = frozenset({"EpollSelector.select (selectors.py)", "select (selectors.py)"})
# Entry points and the event loop: on (nearly) every stack, they say nothing about where the cost is.
OUTER_PACKAGES = frozenset({"asyncio", "selectors", "typer", "click", "runpy", "threading", "concurrent"})
PROJECT_PREFIX = "alertrouter_"


def py_spy_command() -> list[str] | None:
    """py-spy from the environment, else through uv's tool runner (PyPI), else none. ``make bench`` may run uv as
    ``python3 -m uv`` with no uv on PATH; ``uv run`` names its binary in ``UV``."""
    local = Path(sys.executable).parent / "py-spy"
    if local.is_file():
        return [str(local)]
    found = shutil.which("py-spy")
    if found:
        return [found]
    uv = os.environ.get("UV") or shutil.which("uv")
    return [uv, "tool", "run", "py-spy"] if uv else None


def frame_parts(frame: str) -> tuple[str, str]:
    """(function, package) of one frame; the package is the first component of the module path."""
    match = FRAME.match(frame.strip())
    if match is None:
        return frame.strip(), "?"
    path = match.group("path")
    package = path.split("/", 1)[0] if "/" in path else path.removesuffix(".py")
    return f"{match.group('function')} ({path})", package


def parse_collapsed(text: str) -> list[tuple[list[str], int]]:
    stacks = []
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    return stacks


def _shares(counter: Counter[str], total: int, top: int) -> list[FrameShare]:
    return [FrameShare(name=name, percent=round(100 * n / total, 1)) for name, n in counter.most_common(top)]


def _is_outer_package(package: str) -> bool:
    """The event loop, CLI frameworks, console-script and process frames (no module path)."""
    return package in OUTER_PACKAGES or "-" in package or package == "?"


def _is_project_frame(function: str, package: str) -> bool:
    return package.startswith(PROJECT_PREFIX) and "/__main__.py" not in function


@dataclass
class _Tally:
    busy: int = 0
    idle: int = 0
    self_functions: Counter[str] = field(default_factory=Counter)
    self_packages: Counter[str] = field(default_factory=Counter)
    project_inclusive: Counter[str] = field(default_factory=Counter)
    package_inclusive: Counter[str] = field(default_factory=Counter)

    def add(self, frames: list[str], count: int) -> None:
        parts = [frame_parts(frame) for frame in frames]
        if not parts:
            return
        leaf_function, leaf_package = parts[-1]
        if leaf_function in IDLE_LEAVES:
            self.idle += count
            return
        self.busy += count
        self.self_functions[leaf_function] += count
        self.self_packages[leaf_package] += count
        for function in {f for f, p in parts if _is_project_frame(f, p)}:
            self.project_inclusive[function] += count
        for package in {p for f, p in parts if not _is_outer_package(p) and "/__main__.py" not in f}:
            self.package_inclusive[package] += count


def summarise(text: str, service: str, seconds: float, rate: float, tool: str, top: int = 12) -> ProfileRun:
    """Shares of the busy samples (idle waits in the event loop left out) by package and by function.

    *self* = the sample's innermost frame; *inclusive* = anywhere on the stack. Inclusive functions are the
    project's own (``alertrouter_*``), which says which step of the service carries the cost.
    """
    tally = _Tally()
    for frames, count in parse_collapsed(text):
        tally.add(frames, count)
    busy = max(tally.busy, 1)
    return ProfileRun(
        service=service,
        seconds=seconds,
        rate=rate,
        samples=tally.busy,
        idle_samples=tally.idle,
        busy_fraction=round(tally.busy / (seconds * SAMPLING_HZ), 3),
        by_package_self=_shares(tally.self_packages, busy, top),
        by_package_inclusive=_shares(tally.package_inclusive, busy, top),
        top_self=_shares(tally.self_functions, busy, top),
        top_inclusive=_shares(tally.project_inclusive, busy, top),
        tool=tool,
    )


async def _record(command: list[str], pid: int, seconds: float, output: Path, subprocesses: bool) -> str | None:
    args = [*command, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", str(SAMPLING_HZ)]
    args += ["--format", "raw", "--output", str(output), "--nonblocking"]
    if subprocesses:
        args.append("--subprocesses")
    proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    if proc.returncode != 0 or not output.is_file():
        return f"py-spy exited with {proc.returncode}: {out.decode(errors='replace')[-800:]}"
    return None


async def profile_services(ctx: BenchContext, pool: Pool, make: RequestFactory, services: list[Service]) -> None:
    """Offer profile_rate alerts/s for profile_seconds + 2 s; py-spy samples each service for profile_seconds."""
    plan = ctx.plan
    command = py_spy_command()
    if command is None:
        ctx.unmeasured("hot-path profile", "py-spy is not installed and uvx is not available")
        return
    load = asyncio.create_task(open_loop(pool, plan.profile_rate, plan.profile_seconds + 2.0, make))
    await asyncio.sleep(1.0)
    targets = [(s, s.pid()) for s in services]
    jobs = [
        _record(command, pid, plan.profile_seconds, ctx.workdir / f"profile-{s.name}.txt", len(process_tree(pid)) > 1)
        for s, pid in targets
        if pid is not None
    ]
    ctx.sampler.begin("profile")
    errors = await asyncio.gather(*jobs)
    usage, _ = ctx.sampler.end("profile", 0)
    cpu = {u.name: u.cpu_seconds / plan.profile_seconds for u in usage}
    await load
    tool = f"py-spy record --rate {SAMPLING_HZ} --nonblocking"
    for (service, _), error in zip(targets, errors, strict=False):
        if error is not None:
            ctx.unmeasured(f"profile of {service.name}", error)
            continue
        text = (ctx.workdir / f"profile-{service.name}.txt").read_text()
        profile = summarise(text, service.name, plan.profile_seconds, plan.profile_rate, tool)
        profile.cpu_cores = round(cpu.get(service.name, 0.0), 3)
        ctx.results.profiles.append(profile)
