"""Topic names and each topic's partition-key rule.

Keys decide ordering: every event of one alert lands in one partition (key = dedup key), and every page of
one incident in one partition (key = incident id), so consumers see them in order.
"""

from __future__ import annotations

from dataclasses import dataclass

from alertrouter_shared.events import AlertEvent, DeliveryResult

ALERTS = "alertrouter.alerts.v1"
PAGES = "alertrouter.pages.v1"
DELIVERIES = "alertrouter.deliveries.v1"
PAGES_DLQ = "alertrouter.pages.v1.dlq"
ALERTS_DLQ = "alertrouter.alerts.v1.dlq"
DELIVERIES_DLQ = "alertrouter.deliveries.v1.dlq"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int


def all_topics(partitions: int, replication_factor: int) -> list[TopicSpec]:
    names = [ALERTS, PAGES, DELIVERIES, ALERTS_DLQ, PAGES_DLQ, DELIVERIES_DLQ]
    return [TopicSpec(name, partitions, replication_factor) for name in names]


def alert_key(event: AlertEvent) -> bytes:
    return event.dedup_key.encode()


def delivery_key(result: DeliveryResult) -> bytes:
    return result.incident_id.encode()
