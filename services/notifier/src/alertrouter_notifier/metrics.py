"""The notifier's Prometheus metrics (served with the shared ones on /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

DELIVERIES = Counter(
    "alertrouter_notifier_deliveries_total", "Deliveries reaching a final outcome", ["channel", "outcome"]
)
ATTEMPTS = Counter(
    "alertrouter_notifier_attempts_total",
    "Send attempts by channel, provider and outcome",
    ["channel", "provider", "outcome"],
)
PROVIDER_LATENCY = Histogram(
    "alertrouter_notifier_provider_latency_seconds",
    "Time the provider took to accept (or refuse) a message",
    ["channel", "provider"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
RETRY_QUEUE_DEPTH = Gauge("alertrouter_notifier_retry_queue_depth", "Deliveries pending, retrying or being sent")
OLDEST_PENDING_SECONDS = Gauge(
    "alertrouter_notifier_oldest_pending_delivery_seconds", "Age of the oldest delivery not yet finished"
)
PAGES_RECEIVED = Counter("alertrouter_notifier_pages_total", "Page records consumed, by intake outcome", ["outcome"])
OLDEST_UNPUBLISHED_SECONDS = Gauge(
    "alertrouter_notifier_oldest_unpublished_result_seconds",
    "Age of the oldest delivery result stored and not yet published to the deliveries topic",
)
RESULTS_UNPUBLISHED = Counter(
    "alertrouter_notifier_result_publish_failures_total", "Delivery results that could not be published yet"
)

UNDECODABLE_PAGES = Counter(
    "alertrouter_notifier_undecodable_deliveries_total",
    "Stored pages this notifier cannot decode (a claimed delivery, or the held page a digest is built from): left "
    "for another version",
)

LEASES_LOST = Counter(
    "alertrouter_notifier_leases_lost_total",
    "Outcomes not recorded because the delivery's claim had been taken over after its lease ran out",
)
