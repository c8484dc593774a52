"""docs/operations.md's metrics table names exactly the metrics, and the labels, that the services register."""

from __future__ import annotations

import re

from prometheus_client import REGISTRY

from tests.deploy.support import ROOT, registered_metric_names

ROW = re.compile(r"^\| `(?P<name>alertrouter_[a-z0-9_]+)(?:\{(?P<labels>[a-z_,]*)\})?` \|", re.MULTILINE)


def documented() -> dict[str, tuple[str, ...]]:
    text = (ROOT / "docs" / "operations.md").read_text()
    section = text.split("## Metrics", 1)[1].split("\n## ", 1)[0]
    rows = {m["name"]: tuple((m["labels"] or "").split(",")) if m["labels"] else () for m in ROW.finditer(section)}
    assert len(rows) == len(ROW.findall(section)), "a metric is listed twice"
    return rows


def registered() -> dict[str, tuple[str, ...]]:
    """Name as scraped (counters with _total) -> label names, from the services' own Prometheus registry."""
    registered_metric_names()  # imports every module of the services, so every metric is registered
    found: dict[str, tuple[str, ...]] = {}
    for collector in list(REGISTRY._collector_to_names):
        name = getattr(collector, "_name", "")
        if name.startswith("alertrouter_"):
            suffix = "_total" if getattr(collector, "_type", "") == "counter" else ""
            found[name + suffix] = tuple(getattr(collector, "_labelnames", ()))
    return found


def test_every_registered_metric_is_documented_with_its_labels() -> None:
    code, docs = registered(), documented()
    assert sorted(set(code) - set(docs)) == [], "metrics missing from docs/operations.md"
    assert sorted(set(docs) - set(code)) == [], "docs/operations.md names metrics the code does not register"
    wrong = {name: (docs[name], labels) for name, labels in code.items() if docs[name] != labels}
    assert wrong == {}, "documented labels (left) differ from the code's (right)"


def test_no_metric_uses_a_label_the_prometheus_operator_overwrites() -> None:
    """`service`, `namespace`, `pod`, `job`, `instance`, `container` are target labels: ours would be renamed."""
    reserved = {"service", "namespace", "pod", "job", "instance", "container", "endpoint"}
    clashes = {name: labels for name, labels in registered().items() if reserved & set(labels)}
    assert clashes == {}


def test_the_comparison_sees_a_wrong_label() -> None:
    docs = documented()
    assert docs["alertrouter_router_incidents_opened_total"] == ("alertrouter_service",)
    assert registered()["alertrouter_router_incidents_opened_total"] == ("alertrouter_service",)
    assert docs["alertrouter_ingest_in_flight_requests"] == ()
