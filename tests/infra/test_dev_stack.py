"""`make dev` as a person uses it (scripts/dev.py, on ports and a run directory of its own): the whole stack comes
up, the README's example alert is decided and handed to the notifier, a second `make dev` refuses to start beside
it without touching it, the next `make dev` after one killed alone (kill -9) stops what that one left running, and
the SIGTERM sent to the whole process group (which `uv run` also passes on, so it arrives twice) or the SIGHUP of a
closed terminal stops everything the script started. That double signal used to cut the clean-up short and leave
Kafka, PostgreSQL and the three services running."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import eventually

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import local_kafka  # noqa: E402
import local_postgres  # noqa: E402

AUTH = {"authorization": "Bearer dev-token"}
# Offsets whose ports stay clear of the ranges the suite's own brokers pick from (local_kafka: 10000-14000, and
# 20000-22700 for the second node of three) and of Linux's ephemeral ports (32768 and up).
OFFSETS = range(7300, 7600)


def stack_ports(offset: int) -> dict[str, int]:
    return {
        "ingest": 8080 + offset,
        "router": 8081 + offset,
        "notifier": 8082 + offset,
        "capture": 18090 + offset,
        "mail": 18025 + offset,
        "kafka": 19092 + offset,
        "kafka controller": 19093 + offset,
        "postgres": 15432 + offset,
    }


def free_offset() -> int:
    for offset in random.sample(OFFSETS, len(OFFSETS)):
        if all(local_kafka.port_is_free(port) for port in stack_ports(offset).values()):
            return offset
    raise AssertionError(f"no offset in {OFFSETS} with all of make dev's ports free on 127.0.0.1")


# `make dev` runs the script through `uv run`, which passes a SIGTERM it gets on to its child: with the signal sent
# to the whole group, the script gets it twice, the second a moment after the first. This stands in for uv, with
# SIGHUP as in a terminal's session whatever the suite's own (a suite run under ``nohup`` passes SIGHUP ignored).
PASS_ON_SIGTERM = """
import signal, subprocess, sys
signal.signal(signal.SIGHUP, signal.SIG_DFL)
child = subprocess.Popen(sys.argv[1:])
signal.signal(signal.SIGTERM, lambda signum, frame: child.send_signal(signum))
sys.exit(child.wait())
"""


@dataclass
class DevStack:
    run: Path
    ports: dict[str, int]
    env: dict[str, str]
    stdout: int
    output: Callable[[], str]
    proc: subprocess.Popen[bytes] = field(init=False)
    _seen: int = 0

    def launch(self) -> None:
        """scripts/dev.py in a process group of its own, as a terminal starts it (the tests signal the group as
        the terminal would)."""
        self._seen = len(self.output())
        self.proc = subprocess.Popen(
            [sys.executable, "-c", PASS_ON_SIGTERM, sys.executable, str(ROOT / "scripts" / "dev.py")],
            cwd=ROOT, env=self.env, stdout=self.stdout, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    async def running(self) -> None:
        async def ready() -> bool:
            assert self.proc.poll() is None, f"make dev exited with {self.proc.returncode}:\n{self.output()[-3000:]}"
            return "alertrouter is running" in self.output()[self._seen :]

        await eventually(ready, timeout=240, interval=0.5, what="make dev to start the stack")

    async def stopped_entirely(self, exit_codes: set[int]) -> None:
        """The script (which may outlive the process standing in for uv) and everything it started have ended."""
        assert self.proc.wait(timeout=120) in exit_codes, self.output()[-3000:]

        async def none_left() -> bool:
            return not stack_processes(self.run)

        await eventually(none_left, timeout=120, what=f"the processes of make dev to end: {stack_processes(self.run)}")

        async def all_free() -> bool:
            return all(local_kafka.port_is_free(port) for port in self.ports.values())

        await eventually(all_free, timeout=30, what=f"every port of the stack free again: {self.ports}")


@contextlib.asynccontextmanager
async def dev_stack(tmp_path: Path, stdout: int) -> AsyncIterator[DevStack]:
    """A stack on ports and a folder of its own, launched, its output going to ``stdout``."""
    offset, run, log = free_offset(), tmp_path / "run", tmp_path / "dev.log"
    ports = stack_ports(offset)
    env = {**os.environ, "DEV_PORT_OFFSET": str(offset), "DEV_RUN_DIR": str(run)}
    stack = DevStack(run, ports, env, stdout, lambda: log.read_text() if log.exists() else "")
    stack.launch()
    try:
        yield stack
    finally:
        if stack.proc.poll() is None:
            stack.proc.terminate()
            stack.proc.wait(timeout=120)
        # Whatever a failure left running (the script's own clean-up is what is tested).
        for pid in stack_processes(run):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        local_kafka.LocalKafka(run / "kafka", nodes=1, base_port=ports["kafka"]).stop()
        local_postgres.LocalPostgres(run / "pg", port=ports["postgres"]).stop()


async def test_make_dev_runs_the_stack_refuses_a_second_and_stops_everything_on_sigterm(tmp_path: Path) -> None:
    with (tmp_path / "dev.log").open("ab") as log:
        async with dev_stack(tmp_path, log.fileno()) as stack:
            await stack.running()
            await _alert_reaches_the_notifier(stack.ports)

            second = subprocess.run(
                [sys.executable, str(ROOT / "scripts" / "dev.py")], cwd=ROOT, env=stack.env, capture_output=True,
                text=True, timeout=60,
            )  # fmt: skip
            assert second.returncode == 2, second.stdout + second.stderr
            assert f"{stack.ports['ingest']}" in second.stderr and "already running" in second.stderr
            async with httpx.AsyncClient(timeout=5) as client:  # the first stack is untouched, Kafka and all
                assert (await client.get(f"http://127.0.0.1:{stack.ports['router']}/readyz")).status_code == 200
            assert stack.proc.poll() is None

            # The script killed alone (kill -9, the OOM killer): its services, capture server and mail sink run on,
            # orphaned, and the next make dev used to refuse to start for their ports. It stops them first now.
            script, *children = [pid for pid, _ in json.loads((stack.run / "dev.pids").read_text())]
            os.kill(script, signal.SIGKILL)
            stack.proc.wait(timeout=30)
            assert len(children) == 5 and all(map(alive, children))
            stack.launch()
            await stack.running()
            assert "stopped 5 process(es) a killed make dev had left running" in stack.output()
            assert not any(map(alive, children))

            os.killpg(stack.proc.pid, signal.SIGTERM)
            await stack.stopped_entirely({0})
            assert "dev: stopping" in stack.output()


async def test_closing_the_terminal_stops_make_dev_and_everything_it_started(tmp_path: Path) -> None:
    """The terminal's SIGHUP, with the terminal gone: a pipe whose reader has closed stands in for it (writing to
    either fails). Before, SIGHUP ended the script at once, and the services, Kafka and PostgreSQL ran on."""
    reader, writer = os.pipe()
    seen = bytearray()
    log = tmp_path / "dev.log"
    try:
        async with dev_stack(tmp_path, writer) as stack:
            os.close(writer)
            writer = -1
            os.set_blocking(reader, False)

            def drained() -> str:
                with contextlib.suppress(BlockingIOError):
                    while reader >= 0 and (chunk := os.read(reader, 65536)):
                        seen.extend(chunk)
                log.write_bytes(seen)
                return seen.decode(errors="replace")

            stack.output = drained
            await stack.running()
            os.close(reader)
            reader = -1
            os.killpg(stack.proc.pid, signal.SIGHUP)
            await stack.stopped_entirely({-signal.SIGHUP})  # the stand-in for uv ends at once
    finally:
        for fd in (reader, writer):
            if fd >= 0:
                os.close(fd)


def alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] not in "ZX"
    except OSError:
        return False


def stack_processes(run: Path) -> list[int]:
    """The processes the script started, found by the environment they inherited from it (the services are in
    sessions of their own, so the group's signal does not reach them: only the script's clean-up does)."""
    marker = f"DEV_RUN_DIR={run}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
    return found


async def _alert_reaches_the_notifier(ports: dict[str, int]) -> None:
    payload = (ROOT / "examples" / "alertmanager-checkout.json").read_bytes()
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.post(
            f"http://127.0.0.1:{ports['ingest']}/v1/alertmanager/dev-alertmanager",
            content=payload,
            headers={"content-type": "application/json"},
        )
        assert answer.status_code == 202, answer.text

        async def decided() -> dict[str, Any] | None:
            url = f"http://127.0.0.1:{ports['router']}/v1/decisions?service=checkout&limit=1"
            items = (await client.get(url, headers=AUTH)).json()["items"]
            return items[0] if items else None

        decision = await eventually(decided, timeout=60, what="the router's decision for the example alert")
        assert decision["outcome"] == "paged", decision

        async def delivered() -> list[dict[str, Any]] | None:
            url = f"http://127.0.0.1:{ports['notifier']}/v1/deliveries?limit=20"
            items: list[dict[str, Any]] = (await client.get(url, headers=AUTH)).json()["items"]
            return [item for item in items if item["incident_id"] == decision["incident_id"]] or None

        await eventually(delivered, timeout=60, what="the notifier's deliveries of the example alert's pages")


def test_a_stop_signal_ignored_at_the_start_stays_ignored() -> None:
    """``nohup make dev`` outlives its terminal: the SIGHUP nohup ignores is not taken over by the script."""
    probe = (
        "import signal, sys; sys.path.insert(0, 'scripts'); signal.signal(signal.SIGHUP, signal.SIG_IGN); import dev; "
        "print(sorted(s.name for s in dev.install_stop_handlers()), signal.getsignal(signal.SIGHUP) is signal.SIG_IGN)"
    )
    command = [sys.executable, "-c", probe]
    shown = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    assert shown.stdout == "['SIGINT', 'SIGTERM'] True\n", shown.stdout
