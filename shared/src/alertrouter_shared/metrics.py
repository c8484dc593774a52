"""Prometheus metrics shared by every service, and the /metrics response body."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

CONSUMER_BATCHES = Counter("alertrouter_consumer_batches_total", "Partition batches handled and committed", ["group"])
CONSUMER_FAILURES = Counter("alertrouter_consumer_failures_total", "Batch handler failures by kind", ["group", "kind"])
CONSUMER_LAG = Gauge(
    "alertrouter_consumer_lag_records", "Records behind the high-water mark", ["group", "topic", "partition"]
)
DEAD_LETTERED = Counter(
    "alertrouter_records_dead_lettered_total",
    "Records a consumer set aside in a dead-letter topic (undecodable, or refused by the database): alerts, pages "
    "or delivery results it did not act on",
    ["topic"],
)
KAFKA_PRODUCE_SECONDS = Histogram(
    "alertrouter_kafka_produce_seconds",
    "Time from enqueueing a batch of records to the broker's acknowledgement",
    ["alertrouter_service"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def metrics_payload() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST


HISTORY_DELETED = Counter(
    "alertrouter_history_deleted_total",
    "Rows of history older than the retention (ROUTER_RETENTION_DAYS, NOTIFIER_RETENTION_DAYS) deleted",
    ["table"],
)
