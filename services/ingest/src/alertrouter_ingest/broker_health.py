"""What the producers and the publisher share about the broker: connected, available, and when it last failed.

The publisher refuses requests at once while the broker is unavailable; a producer that sees a failure marks it,
which starts one background probe that marks the broker available again when it answers. Producers report here
instead of holding the publisher, so the publisher depends on its producers and never the other way round.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from alertrouter_ingest.metrics import KAFKA_FAILURES
from alertrouter_shared.kafka import kafka_reachable
from alertrouter_shared.logging import get_logger
from alertrouter_shared.settings import CommonSettings

log = get_logger(__name__)


class BrokerHealth:
    def __init__(self, settings: CommonSettings, timeout: float) -> None:
        self._settings = settings
        self._timeout = timeout
        self.available = True
        self.last_failure = float("-inf")
        self.connection_changed = asyncio.Event()  # set whenever a producer (re)connects
        self._probe: asyncio.Task[None] | None = None

    def mark_failed(self) -> None:
        """Kafka did not store a request in time: refuse new ones until a probe sees the broker again."""
        KAFKA_FAILURES.inc()
        self.last_failure = time.monotonic()
        if self.available:
            self.available = False
            log.warning("kafka_unavailable", timeout=self._timeout)
            self._probe = asyncio.ensure_future(self._wait_for_broker())

    async def _wait_for_broker(self) -> None:
        while not await kafka_reachable(self._settings, timeout=2.0):  # noqa: ASYNC110
            await asyncio.sleep(1.0)  # a probe loop: nothing in-process can signal the broker's return
        self.available = True
        log.info("kafka_available_again")

    async def stop(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._probe
