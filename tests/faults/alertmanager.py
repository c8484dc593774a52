"""A real Prometheus Alertmanager (Debian's ``prometheus-alertmanager``) in front of ingest, in the foreground.

Gossip is off (``--cluster.listen-address=``: otherwise the first notification waits ~10 s for the cluster to
settle); every distinct alert is its own group with ``group_wait: 0s`` and ``group_interval: 1s``, so a failed
notification is flushed again within a second or so, and 5xx answers are retried with backoff inside a flush.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import free_port

BINARY = "prometheus-alertmanager"
CONFIG = """\
route:
  receiver: alertrouter
  group_by: ['...']
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: alertrouter
    webhook_configs:
      - url: {url}
        send_resolved: false
        max_alerts: 0
"""


@contextlib.asynccontextmanager
async def running_alertmanager(workdir: Path, webhook_url: str) -> AsyncIterator[str]:
    binary = shutil.which(BINARY)
    if binary is None:
        pytest.fail(f"{BINARY} is not installed: run `apt-get install -y prometheus-alertmanager`", pytrace=False)
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "alertmanager.yml"
    config.write_text(CONFIG.format(url=webhook_url))
    port = free_port()
    command = [
        binary,
        f"--config.file={config}",
        f"--storage.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        "--log.level=info",
    ]
    log = workdir / "alertmanager.log"
    with log.open("ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        await _until_ready(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, 10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _until_ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"Alertmanager exited:\n{log.read_text()[-3000:]}", pytrace=False)
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{url}/-/ready")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    pytest.fail(f"Alertmanager not ready after {timeout}s:\n{log.read_text()[-3000:]}", pytrace=False)


async def post_alerts(url: str, labels: Sequence[dict[str, str]]) -> None:
    """``POST /api/v2/alerts`` as Prometheus does; a 200 means Alertmanager accepted them."""
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    alerts: list[dict[str, Any]] = [
        {"labels": dict(item), "annotations": {"summary": item["fault_id"]}, "startsAt": now} for item in labels
    ]
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(f"{url}/api/v2/alerts", json=alerts)
    assert response.status_code == 200, response.text
