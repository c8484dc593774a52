"""The self-monitoring alert rules evaluated by Prometheus's own rule engine (``promtool test rules``) on series
shaped like the services' metrics: which ones fire, and which do not.

The rules under test are deploy/compose/prometheus-rules.yml, which tests/deploy/test_compose.py keeps equal to the
chart's PrometheusRule with its default thresholds. promtool comes from Debian's ``prometheus`` package
(scripts/bootstrap.sh installs it).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.support import ROOT, load_yaml

RULES = ROOT / "deploy" / "compose" / "prometheus-rules.yml"
NAMESPACE = "alerting"


def _expr(alert: str) -> str:
    rules = [r for g in load_yaml(RULES)["groups"] for r in g["rules"] if r.get("alert") == alert]
    assert len(rules) == 1, f"{alert} in {RULES}"
    return str(rules[0]["expr"])


def _firing(alert: str) -> str:
    """The rule's condition with each result's value replaced by 1 (labels kept): promtool compares values exactly,
    and an ``increase`` over a window is extrapolated, so only whether a series is there is asserted."""
    return f"({_expr(alert)}) * 0 + 1"


def _promtool_test(tmp_path: Path, input_series: dict[str, str], checks: list[dict[str, Any]]) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool not found: run scripts/bootstrap.sh (Debian package prometheus)", pytrace=False)
    test = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": series, "values": values} for series, values in input_series.items()],
                "promql_expr_test": checks,
            }
        ],
    }
    path = tmp_path / "rules_test.yml"
    path.write_text(yaml.safe_dump(test, sort_keys=False), encoding="utf-8")
    result = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def _series(metric: str, **labels: str) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in {"namespace": NAMESPACE, **labels}.items())
    return f"{metric}{{{inner}}}"


def test_alerts_that_paged_nobody_fire_and_paged_or_duplicate_ones_do_not(tmp_path: Path) -> None:
    decisions = "alertrouter_router_decisions_total"
    firing = _firing("AlertrouterAlertsPagedNobody")
    _promtool_test(
        tmp_path,
        {
            _series(decisions, outcome="paged"): "0+5x40",
            _series(decisions, outcome="duplicate"): "0+50x40",
            _series(decisions, outcome="nobody_on_call"): "0x10 1x30",  # one decision in the 11th minute
            _series(decisions, outcome="no_route"): "0x30 2x10",  # two in the 31st minute
        },
        [
            {"expr": firing, "eval_time": "10m", "exp_samples": []},  # paging and repeats only: quiet
            {
                "expr": firing,
                "eval_time": "20m",
                "exp_samples": [{"labels": f'{{namespace="{NAMESPACE}",outcome="nobody_on_call"}}', "value": 1}],
            },
            {
                "expr": firing,
                "eval_time": "35m",
                "exp_samples": [{"labels": f'{{namespace="{NAMESPACE}",outcome="no_route"}}', "value": 1}],
            },
        ],
    )


def test_delivery_failures_fire_above_a_tenth_and_pages_held_or_cancelled_do_not_hide_them(tmp_path: Path) -> None:
    """Neither pages held for digests nor pages cancelled unsent (their incident resolved first: a storm that
    ends quickly) were tried, so neither dilutes the failures."""
    deliveries = "alertrouter_notifier_deliveries_total"
    firing = _firing("AlertrouterDeliveryFailuresHigh")
    _promtool_test(
        tmp_path,
        {
            # each minute: 10 SMS sent; 1 failed in the first 20 minutes, then 3; 1,000 held back for digests and
            # 1,000 cancelled
            _series(deliveries, channel="sms", outcome="sent"): "0+10x40",
            _series(deliveries, channel="sms", outcome="failed"): "0+1x20 23+3x20",
            _series(deliveries, channel="sms", outcome="throttled"): "0+1000x40",
            _series(deliveries, channel="sms", outcome="cancelled"): "0+1000x40",
        },
        [
            {"expr": firing, "eval_time": "18m", "exp_samples": []},  # 1 of 11 ended failed: under a tenth
            {
                "expr": firing,
                "eval_time": "40m",  # 3 of 13: above, although 3 of 2,013 if throttled and cancelled were counted
                "exp_samples": [{"labels": f'{{namespace="{NAMESPACE}"}}', "value": 1}],
            },
        ],
    )


def test_config_not_converged_counts_source_versions_across_router_and_ingest(tmp_path: Path) -> None:
    """Router pods report ``version_info`` 1 for what they serve (the old series cleared); ingest workers in
    multiprocess mode may keep an old source version at 0, which must not count as served."""
    router, ingest = "alertrouter_router_config_version_info", "alertrouter_ingest_config_version_info"
    firing = _firing("AlertrouterConfigNotConverged")
    _promtool_test(
        tmp_path,
        {
            _series(router, pod="router-a", version="v2", source_version="s2"): "1x30",
            _series(router, pod="router-b", version="v2", source_version="s2"): "1x30",
            _series(ingest, pod="ingest-a", source_version="s1"): "1x10 0x20",  # s1 until minute 10, kept at 0
            _series(ingest, pod="ingest-a", source_version="s2"): "_x10 1x20",
        },
        [
            {
                "expr": firing,
                "eval_time": "5m",  # ingest still on s1, the routers on s2
                "exp_samples": [{"labels": f'{{namespace="{NAMESPACE}"}}', "value": 1}],
            },
            {"expr": firing, "eval_time": "20m", "exp_samples": []},  # all on s2; s1 is left at 0
        ],
    )


def test_consumer_lag_sums_partitions_once_each_whichever_pods_report_them(tmp_path: Path) -> None:
    """Two pods may both export a partition for a moment around a rebalance: the partition counts once (its
    largest value), and the group's partitions add up."""
    lag = "alertrouter_consumer_lag_records"
    firing = _firing("AlertrouterConsumerLagHigh")
    _promtool_test(
        tmp_path,
        {
            _series(lag, pod="router-a", group="router", topic="alerts", partition="0"): "600x20",
            _series(lag, pod="router-b", group="router", topic="alerts", partition="0"): "600x20",  # the same one
            _series(lag, pod="router-b", group="router", topic="alerts", partition="1"): "300x10 500x10",
            _series(lag, pod="notifier-a", group="notifier", topic="pages", partition="0"): "900x20",
        },
        [
            {"expr": firing, "eval_time": "5m", "exp_samples": []},  # router 600 + 300 (not 1,500); notifier 900
            {
                "expr": firing,
                "eval_time": "15m",  # router 600 + 500
                "exp_samples": [{"labels": f'{{namespace="{NAMESPACE}",group="router"}}', "value": 1}],
            },
        ],
    )


def test_a_refused_reload_fires_from_either_service(tmp_path: Path) -> None:
    router, ingest = "alertrouter_router_config_reloads_total", "alertrouter_ingest_config_reloads_total"
    firing = _firing("AlertrouterConfigReloadRejected")
    _promtool_test(
        tmp_path,
        {
            _series(router, result="loaded"): "0+1x40",
            _series(router, result="rejected"): "0x30 1x10",
            _series(ingest, result="rejected"): "0x10 1x30",
        },
        [
            {"expr": firing, "eval_time": "8m", "exp_samples": []},  # good reloads only
            {
                "expr": firing,
                "eval_time": "15m",  # ingest refused one
                "exp_samples": [{"labels": f'{{namespace="{NAMESPACE}"}}', "value": 1}],
            },
            {"expr": firing, "eval_time": "29m", "exp_samples": []},  # more than 15 minutes ago: quiet again
            {
                "expr": firing,
                "eval_time": "35m",  # the router refused one
                "exp_samples": [{"labels": f'{{namespace="{NAMESPACE}"}}', "value": 1}],
            },
        ],
    )


def test_refusals_of_an_integration_fire_per_integration_and_reason_and_end_with_them(tmp_path: Path) -> None:
    refusals = "alertrouter_ingest_integration_refusals_total"
    firing = _firing("AlertrouterIntegrationRefused")

    def labels(integration: str, reason: str) -> str:
        return f'{{integration="{integration}",namespace="{NAMESPACE}",reason="{reason}"}}'

    _promtool_test(
        tmp_path,
        {
            # two ingest pods: the same integration's refusals add up, whichever pod answered
            _series(refusals, integration="grafana-prod", reason="invalid_payload", pod="ingest-a"): "0x30 1x30",
            _series(refusals, integration="grafana-prod", reason="invalid_payload", pod="ingest-b"): "0x60",
            _series(refusals, integration="am-staging", reason="too_many_alerts", pod="ingest-b"): "3x40 4x20",
        },
        [
            {"expr": firing, "eval_time": "28m", "exp_samples": []},  # an old count that does not grow: quiet
            {
                "expr": firing,
                "eval_time": "35m",
                "exp_samples": [{"labels": labels("grafana-prod", "invalid_payload"), "value": 1}],
            },
            {
                "expr": firing,
                "eval_time": "47m",  # Grafana's refusal is over 15 minutes old; the staging one is recent
                "exp_samples": [{"labels": labels("am-staging", "too_many_alerts"), "value": 1}],
            },
            {"expr": firing, "eval_time": "59m", "exp_samples": []},  # none in the last 15 minutes
        ],
    )


@pytest.mark.parametrize(
    ("alert", "metric", "labels", "window_minutes"),
    [
        (
            "AlertrouterTimerPassFailing",
            "alertrouter_router_timer_pass_failures_total",
            {"timer": "fire_due_steps"},
            10,
        ),
        (
            "AlertrouterIntegrationRefused",
            "alertrouter_ingest_integration_refusals_total",
            {"integration": "grafana-prod", "reason": "invalid_payload"},
            15,
        ),
        (
            "AlertrouterConsumerFailures",
            "alertrouter_consumer_failures_total",
            {"group": "router", "kind": "unexpected"},
            5,
        ),
        (
            "AlertrouterRecordsDeadLettered",
            "alertrouter_records_dead_lettered_total",
            {"topic": "alertrouter.alerts.v1.dlq"},
            15,
        ),
        ("AlertrouterAlertsPagedNobody", "alertrouter_router_decisions_total", {"outcome": "no_route"}, 15),
        ("AlertrouterConfigReloadRejected", "alertrouter_router_config_reloads_total", {"result": "rejected"}, 15),
    ],
)
def test_the_first_event_of_a_series_fires_and_an_old_count_after_a_short_scrape_gap_does_not(
    tmp_path: Path, alert: str, metric: str, labels: dict[str, str], window_minutes: int
) -> None:
    """A labelled counter's series appears at its first event, already at 1 (prometheus-client creates a label set
    at its first ``inc``), and ``increase``/``rate`` count nothing for a series' first sample: the first dead letter,
    the first unrouted alert, the first refused reload of a process fired nothing before (only a second one did).
    A series new within the window counts as grown. One with an old count whose scrapes failed for a few minutes
    (Prometheus marks it stale) is not new."""
    firing = _firing(alert)
    grouped = {k: v for k, v in labels.items() if k not in ("kind", "result")}
    expected = "{" + ",".join(f'{k}="{v}"' for k, v in sorted({"namespace": NAMESPACE, **grouped}.items())) + "}"
    appears = 2 * window_minutes + 5  # the old pod's series is old by then
    end = appears + 3 * window_minutes
    _promtool_test(
        tmp_path,
        {
            _series(metric, pod="new-pod", **labels): f"_x{appears} 1x{end - appears}",  # first scraped at 1
            _series(metric, pod="old-pod", **labels): f"3x{appears + 5} stale _x2 3x{end - appears - 8}",  # a gap
        },
        [
            {"expr": firing, "eval_time": f"{appears - 1}m", "exp_samples": []},
            {"expr": firing, "eval_time": f"{appears + 1}m", "exp_samples": [{"labels": expected, "value": 1}]},
            {"expr": firing, "eval_time": f"{appears + 8 + window_minutes}m", "exp_samples": []},  # after the gap
        ],
    )
