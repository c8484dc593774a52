"""CloudWatch alarm state changes as EventBridge delivers them to an SNS topic (a rule on ``detail-type:
"CloudWatch Alarm State Change"`` with the topic as target): ``detail.alarmName``, ``detail.state``,
``detail.configuration`` and the alarm ARN in ``resources[]``, no ``AlarmArn``. Each is turned into the alarm's own
notification JSON, which ``cloudwatch.py`` reads like any other (AWS: "Alarm events and EventBridge").
"""

from __future__ import annotations

import re
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from alertrouter_shared.events import UtcTimestamp

_LENIENT = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)
EVENTBRIDGE_ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"


class EventBridgeState(BaseModel):
    model_config = _LENIENT
    value: Literal["ALARM", "OK", "INSUFFICIENT_DATA"]
    reason: str = ""
    reason_data: str | None = Field(None, alias="reasonData")
    timestamp: UtcTimestamp | None = None


class EventBridgePreviousState(BaseModel):
    model_config = _LENIENT
    value: str | None = None


class EventBridgeMetric(BaseModel):
    model_config = _LENIENT
    name: str | None = None
    namespace: str | None = None
    dimensions: dict[str, str] = Field(default_factory=dict)


class EventBridgeMetricStat(BaseModel):
    model_config = _LENIENT
    metric: EventBridgeMetric
    period: int | None = None
    stat: str | None = None


class EventBridgeQuery(BaseModel):
    model_config = _LENIENT
    id: str
    expression: str | None = None
    label: str | None = None
    metric_stat: EventBridgeMetricStat | None = Field(None, alias="metricStat")
    return_data: bool | None = Field(None, alias="returnData")


class EventBridgeConfiguration(BaseModel):
    model_config = _LENIENT
    description: str | None = None
    metrics: list[EventBridgeQuery] = Field(default_factory=list)
    alarm_rule: str | None = Field(None, alias="alarmRule")


class EventBridgeDetail(BaseModel):
    model_config = _LENIENT
    alarm_name: str = Field(alias="alarmName", min_length=1, max_length=255)
    state: EventBridgeState
    previous_state: EventBridgePreviousState | None = Field(None, alias="previousState")
    configuration: EventBridgeConfiguration = Field(default_factory=EventBridgeConfiguration)


class EventBridgeAlarmEvent(BaseModel):
    """EventBridge's "CloudWatch Alarm State Change" event (AWS: "Alarm events and EventBridge")."""

    model_config = _LENIENT
    id: str = Field(max_length=128)
    account: str | None = None
    resources: list[str]
    detail: EventBridgeDetail


def looks_like_eventbridge_alarm(document: object) -> bool:
    return (
        isinstance(document, dict)
        and document.get("source") == "aws.cloudwatch"
        and document.get("detail-type") == EVENTBRIDGE_ALARM_STATE_CHANGE
    )


def alarm_notification(event: EventBridgeAlarmEvent, alarm_arn: re.Pattern[str]) -> dict[str, Any] | None:
    """The alarm notification (its JSON, to validate as such) an EventBridge state change describes, so that both
    become the same event; the alarm ARN is the event's resource matching ``alarm_arn``. None without one."""
    arn = next((resource for resource in event.resources if alarm_arn.match(resource)), None)
    if arn is None:
        return None
    detail, configuration = event.detail, event.detail.configuration
    alarm: dict[str, Any] = {
        "AlarmName": detail.alarm_name,
        "AlarmDescription": configuration.description,
        "AWSAccountId": event.account,
        "NewStateValue": detail.state.value,
        "OldStateValue": detail.previous_state.value if detail.previous_state else None,
        "NewStateReason": detail.state.reason,
        "StateChangeTime": detail.state.timestamp,
        "AlarmArn": arn,
        "Trigger": _eventbridge_trigger(configuration),
        "AlarmRule": configuration.alarm_rule,
        "TriggeringChildren": _triggering_children(detail.state.reason_data),
        "eventbridge_event_id": event.id,
    }
    return {k: v for k, v in alarm.items() if v is not None}


def _eventbridge_trigger(configuration: EventBridgeConfiguration) -> dict[str, Any] | None:
    """The alarm notification's ``Trigger``: the metric of a single-metric alarm, the queries of metric math,
    none for a composite alarm (which has an alarm rule instead)."""
    queries = configuration.metrics
    if not queries:
        return None if configuration.alarm_rule is not None else {}
    if len(queries) == 1 and queries[0].metric_stat is not None and queries[0].expression is None:
        stat = queries[0].metric_stat
        return {**_metric(stat.metric), "Period": stat.period, "Statistic": stat.stat}
    return {"Metrics": [_query(query) for query in queries]}


def _query(query: EventBridgeQuery) -> dict[str, Any]:
    converted: dict[str, Any] = {"Id": query.id, "ReturnData": query.return_data}
    if query.expression is not None:
        converted["Expression"] = query.expression
    if query.label is not None:
        converted["Label"] = query.label
    if query.metric_stat is not None:
        stat = query.metric_stat
        converted["MetricStat"] = {"Metric": _metric(stat.metric), "Period": stat.period, "Stat": stat.stat}
    return converted


def _metric(metric: EventBridgeMetric) -> dict[str, Any]:
    dimensions = [{"name": name, "value": value} for name, value in metric.dimensions.items()]
    return {"MetricName": metric.name, "Namespace": metric.namespace, "Dimensions": dimensions}


def _triggering_children(reason_data: str | None) -> list[dict[str, Any]] | None:
    """A composite alarm's triggering children, from its state's reasonData, as the notification spells them."""
    try:
        data = orjson.loads(reason_data or "null")
    except orjson.JSONDecodeError:
        return None
    alarms = data.get("triggeringAlarms") if isinstance(data, dict) else None
    if not isinstance(alarms, list):
        return None
    children = [alarm for alarm in alarms if isinstance(alarm, dict) and isinstance(alarm.get("arn"), str)]
    return [{"Arn": child["arn"], "State": _child_state(child.get("state"))} for child in children] or None


def _child_state(state: object) -> dict[str, Any]:
    if not isinstance(state, dict):
        return {}
    return {"Value": state.get("value"), "Timestamp": state.get("timestamp")}
