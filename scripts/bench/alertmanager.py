"""The reference: Prometheus Alertmanager from the Debian package, in the foreground on a free loopback port.

Two configurations. ``intake`` (throughput): group by alertname into a receiver with no integration, so the
figure is what its API accepts, as alertrouter's ingest figure is what it accepted (ingest alone, nothing
consuming). ``webhook`` (latency): every distinct alert is its own group (``group_by: ['...']``) with
``group_wait: 0s``, sent to the benchmark receiver, so each new alert becomes one notification as it becomes one
page in alertrouter. Gossip is off (``--cluster.listen-address=``), otherwise the first notification waits for
the cluster to settle.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .stack import HOST, StackError, free_port, terminate, wait_ready

BINARY = "prometheus-alertmanager"

INTAKE_CONFIG = """\
route:
  receiver: discard
  group_by: ['alertname']
  group_wait: 0s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: discard
"""

WEBHOOK_CONFIG = """\
route:
  receiver: bench
  group_by: ['...']
  group_wait: 0s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: bench
    webhook_configs:
      - url: http://{receiver}/alertmanager
        send_resolved: false
        max_alerts: 0
"""


def binary() -> str:
    found = shutil.which(BINARY)
    if found is None:
        raise StackError(f"{BINARY} not found; install it with: apt-get install -y prometheus-alertmanager")
    return found


def version() -> str:
    try:
        result = subprocess.run([binary(), "--version"], capture_output=True, text=True, check=False, timeout=10)
    except (StackError, OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable ({exc})"
    text = (result.stdout + result.stderr).strip().splitlines()
    return text[0] if text else "unknown"


@dataclass
class Alertmanager:
    workdir: Path
    config_text: str
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    async def start(self) -> None:
        """A fresh storage dir each time, so one phase's alerts never slow down the next one."""
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir.mkdir(parents=True)
        config = self.workdir / "alertmanager.yml"
        config.write_text(self.config_text)
        log = self.workdir / "alertmanager.log"
        command = [
            binary(),
            f"--config.file={config}",
            f"--storage.path={self.workdir / 'data'}",
            f"--web.listen-address={HOST}:{self.port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ]
        with log.open("wb") as out:
            self.proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        await wait_ready("alertmanager", HOST, self.port, "/-/ready", self.proc, log, timeout=30)

    def stop(self) -> None:
        terminate(self.proc)
        self.proc = None
