"""Topic names and each topic's partition-key rule.

Keys decide ordering: every event of one alert lands in one partition (key = dedup key), and every page of
one incident in one partition (key = incident id), and every change event of one service in one partition (key =
service id), so consumers see them in order.
"""

from __future__ import annotations

from dataclasses import dataclass

from alertrouter_shared.events import AlertEvent, ChangeEvent, DeliveryResult

ALERTS = "alertrouter.alerts.v1"
PAGES = "alertrouter.pages.v1"
DELIVERIES = "alertrouter.deliveries.v1"
PAGES_DLQ = "alertrouter.pages.v1.dlq"
ALERTS_DLQ = "alertrouter.alerts.v1.dlq"
DELIVERIES_DLQ = "alertrouter.deliveries.v1.dlq"
CHANGES = "alertrouter.changes.v1"
CHANGES_DLQ = "alertrouter.changes.v1.dlq"


# Fewest replicas that must have a record before an acks=all produce is acknowledged. With replication factor 3,
# 2: one broker may die (or restart) and every acknowledged record is still on another; 1 (Kafka's default) lets
# the leader acknowledge alone once its followers fell behind, and its loss then loses acknowledged alerts and pages.
MIN_INSYNC_REPLICAS = 2


def durability_configs(replication_factor: int) -> dict[str, str]:
    """The topic configuration every topic is created with, whatever the brokers' defaults.

    ``min.insync.replicas`` is 2 (the replication factor when it is lower: a single broker, or 2 replicas, both
    of which must then have a record); an unclean leader election would make a replica that missed acknowledged
    records the leader; a compacting default would keep only the last record of each key (an alert's dedup key).
    Retention is the brokers' (7 days by default, see docs/deployment.md).
    """
    return {
        "min.insync.replicas": str(min(MIN_INSYNC_REPLICAS, replication_factor)),
        "unclean.leader.election.enable": "false",
        "cleanup.policy": "delete",
    }


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int

    @property
    def configs(self) -> dict[str, str]:
        return durability_configs(self.replication_factor)


def all_topics(partitions: int, replication_factor: int) -> list[TopicSpec]:
    names = [ALERTS, PAGES, DELIVERIES, CHANGES, ALERTS_DLQ, PAGES_DLQ, DELIVERIES_DLQ, CHANGES_DLQ]
    return [TopicSpec(name, partitions, replication_factor) for name in names]


def alert_key(event: AlertEvent) -> bytes:
    return event.dedup_key.encode()


def delivery_key(result: DeliveryResult) -> bytes:
    return result.incident_id.encode()


def change_key(change: ChangeEvent) -> bytes:
    return change.service_id.encode()
