"""The bench client's view of the receiver: records fetched incrementally, first arrival per alert."""

from __future__ import annotations

from collections import Counter

import orjson

from .httpclient import get_json_bytes
from .stack import HOST


class ReceiverLog:
    def __init__(self, port: int) -> None:
        self.port = port
        self.next = 0
        self.first_arrival: dict[str, float] = {}
        self.notifications: Counter[str] = Counter()
        self.by_path: dict[str, Counter[str]] = {}
        self.arrivals: dict[str, list[float]] = {}
        self.decided: dict[str, float] = {}  # the router's decision instant of the first notification's page

    async def refresh(self) -> int:
        """Fetch what arrived since the last call; returns how many records were new."""
        response = await get_json_bytes(HOST, self.port, f"/_bench/records?since={self.next}", timeout=30.0)
        payload = orjson.loads(response.body)
        for arrived, _kind, bench_id, path, _page_id, decided in payload["records"]:
            self.notifications[bench_id] += 1
            self.by_path.setdefault(bench_id, Counter())[path] += 1
            self.arrivals.setdefault(bench_id, []).append(arrived)
            if bench_id not in self.first_arrival or arrived < self.first_arrival[bench_id]:
                self.first_arrival[bench_id] = arrived
                if decided is not None:
                    self.decided[bench_id] = decided
        self.next = int(payload["next"])
        return len(payload["records"])

    def delivered(self, bench_ids: set[str] | dict[str, float]) -> int:
        return sum(1 for bench_id in bench_ids if bench_id in self.first_arrival)
