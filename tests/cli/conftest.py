"""Running the ``alertrouter`` command: in-process for offline commands, as a process against the router.

The router fixtures are the router suite's own (a real router on the session's Kafka and PostgreSQL).
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.router.conftest import api, pages, producer, router, router_clock, router_database_url  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "ownership"
LABELLED = Path(__file__).parent / "fixtures" / "labelled"
COMMAND = Path(sys.executable).parent / "alertrouter"


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


async def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Ran:
    """The installed ``alertrouter`` as a process, so exit codes and stderr are exactly what a shell sees."""
    environ = {key: value for key, value in os.environ.items() if not key.startswith("ALERTROUTER_")}
    environ["ALERTROUTER_CLI_CONFIG"] = str(ROOT / "does-not-exist.toml")
    environ.update(env or {})
    process = await asyncio.create_subprocess_exec(
        str(COMMAND), *args, env=environ, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())
