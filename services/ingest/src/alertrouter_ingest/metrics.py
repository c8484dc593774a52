"""Ingest's Prometheus metrics: what arrived, what was accepted or refused and why, and Kafka latency.

Label values are bounded: sources, status codes, reasons and configured integration ids -- never keys.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from alertrouter_shared.metrics import KAFKA_PRODUCE_SECONDS

PRODUCE_SECONDS = KAFKA_PRODUCE_SECONDS.labels("ingest")

REQUESTS = Counter(
    "alertrouter_ingest_requests_total", "Intake HTTP requests by source and response status", ["source", "status"]
)
ALERTS = Counter(
    "alertrouter_ingest_alerts_total",
    "Alerts normalised and acknowledged by Kafka, by source and action",
    ["source", "action"],
)
CHANGE_EVENTS = Counter(
    "alertrouter_ingest_change_events_total", "Change events acknowledged by Kafka, by integration", ["integration"]
)
REJECTS = Counter("alertrouter_ingest_rejects_total", "Requests refused, by source and reason", ["source", "reason"])
INTEGRATION_REFUSALS = Counter(
    "alertrouter_ingest_integration_refusals_total",
    "Requests of a configured integration refused with a 4xx that no retry changes (the source's payload or set-up "
    "is wrong), by integration and reason",
    ["integration", "reason"],
)
IN_FLIGHT = Gauge(
    "alertrouter_ingest_in_flight_requests", "Intake requests being handled now", multiprocess_mode="livesum"
)
READING_BODIES = Gauge(
    "alertrouter_ingest_reading_bodies",
    "Intake requests whose body is still arriving (they hold no in-flight slot; refused 408 at the deadline)",
    multiprocess_mode="livesum",
)
BYTES_IN_FLIGHT = Gauge(
    "alertrouter_ingest_bytes_in_flight",
    "Bytes held by intake requests until each is answered: bodies (and 11 times each once parsed) and the Kafka "
    "records built from them (INGEST_MAX_IN_FLIGHT_BYTES per worker; beyond it: 503)",
    multiprocess_mode="livesum",
)
TRUNCATED_ALERTS = Counter(
    "alertrouter_ingest_alertmanager_truncated_alerts_total",
    "Alerts Alertmanager (max_alerts) or Grafana (Max alerts) left out of webhooks (truncatedAlerts)",
    ["integration"],
)
ALERTMANAGER_IGNORED = Counter(
    "alertrouter_ingest_alertmanager_ignored_total",
    "Alertmanager webhooks acknowledged without producing anything (a resolved Watchdog), by reason",
    ["integration", "reason"],
)
CLOUDWATCH_IGNORED = Counter(
    "alertrouter_ingest_cloudwatch_ignored_total",
    "Verified SNS notifications that produced no event, by reason",
    ["integration", "reason"],
)
SNS_MESSAGES = Counter(
    "alertrouter_ingest_sns_messages_total", "Verified SNS messages by type", ["integration", "type"]
)
SNS_CERT_FETCHES = Counter(
    "alertrouter_ingest_sns_certificate_fetches_total", "Signing certificate downloads by outcome", ["outcome"]
)
KAFKA_FAILURES = Counter(
    "alertrouter_ingest_kafka_failures_total", "Batches Kafka did not acknowledge within the deadline"
)
TRANSACTIONS = Counter(
    "alertrouter_ingest_kafka_transactions_total",
    "Kafka transactions by outcome: committed, aborted, or abandoned (producer replaced, the broker decides)",
    ["outcome"],
)
REQUESTS_PER_TRANSACTION = Histogram(
    "alertrouter_ingest_requests_per_transaction",
    "Intake requests committed together in one Kafka transaction (group commit)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
)
REQUESTS_OUTCOME_UNKNOWN = Counter(
    "alertrouter_ingest_requests_outcome_unknown_total",
    "Requests answered 503 while their transaction's commit was already sent: the sender's retry may duplicate them",
)
