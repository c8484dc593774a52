"""What every intake does around its own format: authenticate, guard, publish, count and log.

``Ingest`` holds the process-wide parts (integrations, publisher, guards, SNS certificate store); the routes
call it so that the order of checks and the meaning of each status code are the same on every endpoint:
integration key (404) -> rate limit (503; 429 on the PagerDuty and heartbeat intakes) -> content type (415)
-> body size (413), read deadline (408) and bytes in flight (503) -> in-flight slot, overall and per integration
(503) -> format (400) -> limits (400/413) and bytes in flight (503) -> Kafka acknowledgement (503) -> 2xx. (On
/v2/enqueue the key is inside the body, so the body is read first.)

Every request holds a reservation of the byte budget (protection.py) from ``guarded``'s start to its answer: the
body's bytes as they arrive (and, once whole, what parsing makes of it) and the records' as they are built; the
event objects themselves go as soon as each is serialised. ``guarded`` keeps it in a context variable, so
``body`` and ``records`` -- called by the routes between -- add to the request's own reservation, and it is
released however the request ends.

Events are serialised one by one as they are built, and building stops as soon as the request's records pass
``INGEST_MAX_PRODUCED_BYTES_PER_REQUEST`` (413): memory per request is bounded by that limit, whatever the
payload repeats into every event.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import httpx
from fastapi.responses import Response
from starlette.requests import Request

from alertrouter_ingest.api.problems import ApiProblem
from alertrouter_ingest.config_reload import IntegrationsConfig
from alertrouter_ingest.integrations import Integration, IntegrationRegistry
from alertrouter_ingest.metrics import ALERTS, CHANGE_EVENTS, INTEGRATION_REFUSALS, REJECTS, REQUESTS
from alertrouter_ingest.protection import ByteBudget, InFlightLimiter, RateLimiter, Reservation, read_body
from alertrouter_ingest.publisher import MAX_RECORD_BYTES, Publisher
from alertrouter_ingest.settings import IngestSettings
from alertrouter_ingest.sns.certificates import CertificateStore
from alertrouter_ingest.sources.errors import InvalidPayload
from alertrouter_ingest.sources.limits import ContentLimits
from alertrouter_shared.clock import Clock
from alertrouter_shared.errors import TransientError
from alertrouter_shared.events import AlertEvent, ChangeEvent
from alertrouter_shared.integrations import IntegrationType
from alertrouter_shared.kafka import Record
from alertrouter_shared.logging import get_logger, log_each
from alertrouter_shared.topics import ALERTS as ALERTS_TOPIC
from alertrouter_shared.topics import CHANGES, change_key

log = get_logger("alertrouter_ingest.intake")

# The byte budget reservation of the request being handled (set by Ingest.guarded for the request's task).
_RESERVATION: ContextVar[Reservation] = ContextVar("ingest_reservation")
# The integration the request being handled was identified as, once its key named one (for INTEGRATION_REFUSALS).
_INTEGRATION: ContextVar[str | None] = ContextVar("ingest_integration", default=None)
# Refusals a retry can end (rate limit, read deadline): not counted against the integration's set-up.
_RETRYABLE_4XX = frozenset({408, 429})


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
        config: IntegrationsConfig,
        publisher: Publisher,
        clock: Clock,
        http: httpx.AsyncClient,
        certificates: CertificateStore,
    ) -> None:
        self.settings = settings
        self.config = config  # swapped in place by the watch on the files
        self.publisher = publisher
        self.clock = clock
        self.http = http
        self.certificates = certificates
        self.limits = limits_from(settings)
        self.in_flight = InFlightLimiter(settings.max_in_flight, settings.max_in_flight_per_integration, retry_after=1)
        self.bytes_in_flight = ByteBudget(settings.max_in_flight_bytes, retry_after=1)
        self.rate_limiter = RateLimiter(settings.rate_limit_per_second, settings.effective_burst)
        self.sns_host_pattern = re.compile(settings.sns_cert_host_pattern)

    @property
    def registry(self) -> IntegrationRegistry:
        return self.config.registry

    async def guarded(self, source: str, handle: Callable[[], Awaitable[Response]]) -> Response:
        """Run one intake request, turning refusals into responses and metrics, with its reservation of the byte
        budget -- given back when the request is answered, refused, fails or is cancelled."""
        reservation = self.bytes_in_flight.reservation()
        token = _RESERVATION.set(reservation)
        identified = _INTEGRATION.set(None)
        try:
            response = await handle()
        except ApiProblem as refused:
            return self._refused(source, refused)
        finally:
            _INTEGRATION.reset(identified)
            _RESERVATION.reset(token)
            reservation.release()
        REQUESTS.labels(source, str(response.status_code)).inc()
        return response

    @contextmanager
    def admitted(self, integration: Integration) -> Iterator[None]:
        """An in-flight slot for ``integration`` (503 when none is free); taken once the body is read."""
        with self.in_flight.held(integration.id):
            yield

    async def body(self, request: Request) -> bytes:
        """The request's body, held in the request's reservation with what parsing will make of it (503 when they
        do not fit)."""
        settings = self.settings
        return await read_body(request, settings.max_body_bytes, settings.body_read_timeout_seconds, _RESERVATION.get())

    def _refused(self, source: str, refused: ApiProblem) -> Response:
        """Refusals of an identified integration are counted by integration too: the alerts of a source set up
        wrongly (a template that breaks the payload, a limit too tight) are lost to its owners, who see only the
        sender's logs, while a counter by source alone cannot tell them from junk posted to a public endpoint."""
        REJECTS.labels(source, refused.reason).inc()
        REQUESTS.labels(source, str(refused.status)).inc()
        integration_id = _INTEGRATION.get()
        if integration_id is not None and 400 <= refused.status < 500 and refused.status not in _RETRYABLE_4XX:
            INTEGRATION_REFUSALS.labels(integration_id, refused.reason).inc()
            log.warning(
                "integration_request_refused",
                integration=integration_id,
                status=refused.status,
                reason=refused.reason,
                detail=refused.detail[:300],
            )
        return refused.render()

    def integration(self, key: str, kind: IntegrationType) -> Integration:
        """The enabled integration for ``key``; 404 for unknown, disabled or other-type keys (never echoed)."""
        found = self.identify(key, kind)
        if found is None:
            raise ApiProblem(404, f"no enabled {kind.value} integration has this key", reason="unknown_key")
        return found

    def identify(self, key: str, kind: IntegrationType) -> Integration | None:
        """The enabled integration for ``key``, noted as the request's (a later refusal is counted against it)."""
        found = self.registry.lookup(key, kind)
        if found is not None:
            _INTEGRATION.set(found.id)
        return found

    def check_rate(self, integration: Integration, *, status: int = 503) -> None:
        """The integration's rate limit, refused with ``Retry-After``. 503 by default: Alertmanager's webhook
        notifier, Grafana and SNS retry only 5xx, so a 429 would make them drop the alerts. The PagerDuty
        intakes answer 429, which PagerDuty documents and its clients retry; heartbeats keep the plain 429."""
        wait = self.rate_limiter.take(integration.id)
        if wait is not None:
            raise ApiProblem(
                status,
                f"integration {integration.id!r} is over its rate limit "
                f"({self.settings.rate_limit_per_second:g} requests/s)",
                reason="rate_limited",
                retry_after=wait,
            )

    def records(self, events: Iterable[AlertEvent]) -> tuple[list[Record], list[tuple[str, EventRef]]]:
        """Serialise events as they are built, refusing (413) at the first one over a limit -- never building more
        -- and (503) at the first one the byte budget cannot hold. Only each event's action and reference are kept
        beside its record: the event objects go as soon as they are serialised."""
        budget = self.settings.max_produced_bytes_per_request
        reservation = _RESERVATION.get()
        records: list[Record] = []
        built: list[tuple[str, EventRef]] = []
        total = 0
        for index, event in enumerate(events):
            value = event.__pydantic_serializer__.to_json(event)
            if len(value) > MAX_RECORD_BYTES:
                raise ApiProblem(
                    413,
                    f"event {index} is {len(value)} bytes once normalised, over the {MAX_RECORD_BYTES} byte limit",
                    reason="event_too_large",
                )
            total += len(value)
            if total > budget:
                raise ApiProblem(
                    413,
                    f"the request's events are more than {total} bytes once normalised, over the limit of {budget}",
                    reason="events_too_large",
                )
            key = event.dedup_key.encode()
            reservation.take(len(key) + len(value))
            records.append((ALERTS_TOPIC, key, value))
            built.append((event.action.value, EventRef(str(event.event_id), event.dedup_key)))
        return records, built

    async def publish(self, source: str, integration: Integration, events: Iterable[AlertEvent]) -> list[EventRef]:
        """Produce the request's events as one batch; return once Kafka acknowledged all of them."""
        records, built = self.records(events)
        await self._produce(records)
        for action, count in Counter(action for action, _ in built).items():
            ALERTS.labels(source, action).inc(count)
        log_each(
            log,
            "alert_accepted",
            [{"action": action, "dedup_key": ref.dedup_key, "event_id": ref.event_id} for action, ref in built],
            source=source,
            integration=integration.id,
        )
        return [ref for _, ref in built]

    async def publish_change(self, integration: Integration, change: ChangeEvent) -> None:
        """Produce one change event to the changes topic; return once Kafka acknowledged it."""
        value = change.__pydantic_serializer__.to_json(change)
        if len(value) > MAX_RECORD_BYTES:
            raise ApiProblem(
                413,
                f"the change event is {len(value)} bytes, over the {MAX_RECORD_BYTES} byte limit",
                reason="too_large",
            )
        key = change_key(change)
        _RESERVATION.get().take(len(key) + len(value))
        await self._produce([(CHANGES, key, value)])
        CHANGE_EVENTS.labels(integration.id).inc()
        log.info(
            "change_accepted", integration=integration.id, service=change.service_id, event_id=str(change.event_id)
        )

    async def _produce(self, records: list[Record]) -> None:
        try:
            await self.publisher.publish(records)
        except TransientError as exc:
            raise ApiProblem(
                503,
                "the event could not be stored (Kafka unavailable); nothing was accepted, retry later",
                reason="kafka_unavailable",
                retry_after=self.settings.retry_after_seconds,
            ) from exc


def invalid(exc: InvalidPayload) -> ApiProblem:
    return ApiProblem(exc.status, exc.detail, reason=exc.reason)
