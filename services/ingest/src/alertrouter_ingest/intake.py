"""What every intake does around its own format: authenticate, guard, publish, count and log.

``Ingest`` holds the process-wide parts (integrations, publisher, guards, SNS certificate store); the routes
call it so that the order of checks and the meaning of each status code are the same on every endpoint:
in-flight cap (503) -> integration key (404) -> rate limit (429) -> content type (415) -> body size (413)
-> format (400) -> limits (400/413) -> Kafka acknowledgement (503) -> 202.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import httpx
from fastapi.responses import Response

from alertrouter_ingest.api.problems import ApiProblem
from alertrouter_ingest.integrations import Integration, IntegrationRegistry
from alertrouter_ingest.metrics import ALERTS, REJECTS, REQUESTS
from alertrouter_ingest.protection import InFlightLimiter, RateLimiter
from alertrouter_ingest.publisher import Publisher, RecordTooLarge, event_records
from alertrouter_ingest.settings import IngestSettings
from alertrouter_ingest.sns.certificates import CertificateStore
from alertrouter_ingest.sources.errors import InvalidPayload
from alertrouter_ingest.sources.limits import ContentLimits
from alertrouter_shared.clock import Clock
from alertrouter_shared.errors import TransientError
from alertrouter_shared.events import AlertEvent
from alertrouter_shared.integrations import IntegrationType
from alertrouter_shared.logging import get_logger, log_each

log = get_logger("alertrouter_ingest.intake")


@dataclass(frozen=True)
class EventRef:
    event_id: str
    dedup_key: str


def limits_from(settings: IngestSettings) -> ContentLimits:
    return ContentLimits(
        max_alerts=settings.max_alerts_per_request,
        max_labels=settings.max_labels_per_alert,
        max_annotations=settings.max_annotations_per_alert,
        max_name_chars=settings.max_label_name_chars,
        max_label_value_chars=settings.max_label_value_chars,
        max_annotation_value_chars=settings.max_annotation_value_chars,
    )


class Ingest:
    def __init__(
        self,
        settings: IngestSettings,
        registry: IntegrationRegistry,
        publisher: Publisher,
        clock: Clock,
        http: httpx.AsyncClient,
        certificates: CertificateStore,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.publisher = publisher
        self.clock = clock
        self.http = http
        self.certificates = certificates
        self.limits = limits_from(settings)
        self.in_flight = InFlightLimiter(settings.max_in_flight, retry_after=1)
        self.rate_limiter = RateLimiter(settings.rate_limit_per_second, settings.effective_burst)
        self.sns_host_pattern = re.compile(settings.sns_cert_host_pattern)

    async def guarded(self, source: str, handle: Callable[[], Awaitable[Response]]) -> Response:
        """Run one intake request under the in-flight cap, turning refusals into responses and metrics."""
        try:
            self.in_flight.acquire()
        except ApiProblem as refused:
            return self._refused(source, refused)
        try:
            response = await handle()
        except ApiProblem as refused:
            return self._refused(source, refused)
        finally:
            self.in_flight.release()
        REQUESTS.labels(source, str(response.status_code)).inc()
        return response

    def _refused(self, source: str, refused: ApiProblem) -> Response:
        REJECTS.labels(source, refused.reason).inc()
        REQUESTS.labels(source, str(refused.status)).inc()
        return refused.render()

    def integration(self, key: str, kind: IntegrationType) -> Integration:
        """The enabled integration for ``key``; 404 for unknown, disabled or other-type keys (never echoed)."""
        found = self.registry.lookup(key, kind)
        if found is None:
            raise ApiProblem(404, f"no enabled {kind.value} integration has this key", reason="unknown_key")
        return found

    def check_rate(self, integration: Integration) -> None:
        wait = self.rate_limiter.take(integration.id)
        if wait is not None:
            raise ApiProblem(
                429,
                f"integration {integration.id!r} is over its rate limit "
                f"({self.settings.rate_limit_per_second:g} requests/s)",
                reason="rate_limited",
                retry_after=wait,
            )

    async def publish(self, source: str, integration: Integration, events: Sequence[AlertEvent]) -> list[EventRef]:
        """Produce the request's events as one batch; return once Kafka acknowledged all of them."""
        try:
            records = event_records(events)
        except RecordTooLarge as exc:
            raise ApiProblem(413, str(exc), reason="event_too_large") from exc
        total = sum(len(value) for _, _, value in records)
        if total > self.settings.max_produced_bytes_per_request:
            raise ApiProblem(
                413,
                f"the request's events are {total} bytes once normalised, over the limit of "
                f"{self.settings.max_produced_bytes_per_request}",
                reason="events_too_large",
            )
        try:
            await self.publisher.publish(records)
        except TransientError as exc:
            raise ApiProblem(
                503,
                "the alert could not be stored (Kafka unavailable); nothing was accepted, retry later",
                reason="kafka_unavailable",
                retry_after=self.settings.retry_after_seconds,
            ) from exc
        refs = [EventRef(str(event.event_id), event.dedup_key) for event in events]
        for action, count in Counter(event.action.value for event in events).items():
            ALERTS.labels(source, action).inc(count)
        log_each(
            log,
            "alert_accepted",
            [
                {"action": event.action.value, "dedup_key": ref.dedup_key, "event_id": ref.event_id}
                for event, ref in zip(events, refs, strict=True)
            ],
            source=source,
            integration=integration.id,
        )
        return refs


def invalid(exc: InvalidPayload) -> ApiProblem:
    return ApiProblem(exc.status, exc.detail, reason=exc.reason)
