"""The scenarios' alert source: Alertmanager webhook bodies sent to ingest like Alertmanager sends them.

Every alert has its own fingerprint (``<run>-<index>``), so each one is a new incident, and carries its fault id in
the labels and the summary, so incidents, delivery records and the pages at the provider servers can be matched
back to it. The sender behaves like a well-behaved Alertmanager: a 503/429 (or a refused connection) is retried
after the Retry-After the server asked for; only a 2xx counts as acknowledged.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

INTEGRATION_ID = "faults-alertmanager"
INTEGRATION_KEY = "faults-alertmanager-key"
RETRYABLE = {429, 500, 502, 503, 504}


def new_run() -> str:
    """A token unique to one scenario run: 8 hex digits (fault ids are ``<run>-<5 digits>``)."""
    return uuid.uuid4().hex[:8]


def fault_id(run: str, index: int) -> str:
    return f"{run}-{index:05d}"


def alert(run: str, index: int, starts_at: datetime) -> dict[str, Any]:
    ident = fault_id(run, index)
    return {
        "status": "firing",
        "labels": labels(run, index),
        "annotations": {"summary": ident},
        "startsAt": starts_at.isoformat().replace("+00:00", "Z"),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.faults.invalid/graph",
        "fingerprint": ident,
    }


def labels(run: str, index: int) -> dict[str, str]:
    return {
        "alertname": "FaultSuite",
        "service": "faults",
        "severity": "critical",
        "fault_run": run,
        "fault_id": fault_id(run, index),
    }


def webhook(alerts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": '{}:{alertname="FaultSuite"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "alertrouter",
        "groupLabels": {"alertname": "FaultSuite"},
        "commonLabels": {"alertname": "FaultSuite", "service": "faults"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.faults.invalid",
        "alerts": list(alerts),
    }


@dataclass
class AlertSender:
    """Sends batches to ingest, retrying refusals; records which fault ids were acknowledged with a 2xx."""

    ingest_url: str
    retry_deadline: float = 180.0
    acknowledged: set[str] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)
    retry_after_seen: list[str] = field(default_factory=list)
    connection_errors: int = 0

    def batches(self, run: str, indexes: range, size: int) -> list[list[dict[str, Any]]]:
        now = datetime.now(UTC)
        alerts = [alert(run, i, now) for i in indexes]
        return [alerts[i : i + size] for i in range(0, len(alerts), size)]

    async def send(self, client: httpx.AsyncClient, batch: list[dict[str, Any]]) -> bool:
        """Until a 2xx (True) or a non-retryable answer or the deadline (False)."""
        deadline = time.monotonic() + self.retry_deadline
        url = f"{self.ingest_url}/v1/alertmanager/{INTEGRATION_KEY}"
        while time.monotonic() < deadline:
            try:
                response = await client.post(url, json=webhook(batch))
            except httpx.TransportError:
                self.connection_errors += 1
                await asyncio.sleep(0.5)  # the sender's retry interval, as Alertmanager's backoff
                continue
            self.statuses[response.status_code] += 1
            if response.is_success:
                self.acknowledged.update(a["labels"]["fault_id"] for a in batch)
                return True
            if response.status_code not in RETRYABLE:
                return False
            retry_after = response.headers.get("Retry-After")
            if retry_after:
                self.retry_after_seen.append(retry_after)
            await asyncio.sleep(min(float(retry_after or 1), 5.0))  # honour Retry-After, as the sender must
        return False

    async def stream(self, run: str, count: int, rate: float, batch_size: int = 10, start: int = 0) -> None:
        """``count`` alerts at about ``rate`` alerts/s, each batch sent on its own schedule (an open-loop load)."""
        batches = self.batches(run, range(start, start + count), batch_size)
        interval = batch_size / rate
        began = time.monotonic()
        async with httpx.AsyncClient(timeout=30) as client:
            tasks = []
            for number, batch in enumerate(batches):
                delay = began + number * interval - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)  # pacing the offered load, not waiting for a result
                tasks.append(asyncio.create_task(self.send(client, batch)))
            await asyncio.gather(*tasks)

    async def burst(self, batches: Sequence[list[dict[str, Any]]], concurrency: int = 4) -> None:
        """As fast as ingest takes them, ``concurrency`` requests at a time (prepared batches can be replayed)."""
        gate = asyncio.Semaphore(concurrency)

        async def one(batch: list[dict[str, Any]]) -> None:
            async with gate:
                await self.send(client, batch)

        async with httpx.AsyncClient(timeout=30) as client:
            await asyncio.gather(*(one(b) for b in batches))
