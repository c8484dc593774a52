"""CloudWatch alarm state changes (the JSON inside a verified SNS Notification) to alert events.

Handles the three alarm shapes: single metric (``Trigger.MetricName``), metric math (``Trigger.Metrics[]``) and
composite (``AlarmRule``, no ``Trigger``). AWS publishes no schema, so only the fields this code relies on are
required; the rest is kept verbatim in ``details``.

The same state change also reaches SNS as an EventBridge event (``eventbridge.py``); it is read into the same alarm
model, so it becomes the same event as the alarm's own SNS notification (same dedup key): whichever way an alarm
is wired, it pages and resolves.

Event rules (documented in docs/ingest.md):
- dedup key ``cw:<integration id>:<AlarmArn>``;
- ALARM -> trigger, OK -> resolve, INSUFFICIENT_DATA -> the configured policy (default: no event);
- labels: ``alarm_name``, ``aws_region`` (the code from the ARN; ``Region`` is a display name),
  ``aws_account_id``, ``alarm_type`` (metric | metric_math | composite), ``namespace`` and ``metric_name`` when
  the alarm watches one, and each dimension as ``dimension_<Name>``;
- ``occurred_at`` = StateChangeTime.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alertrouter_ingest.settings import InsufficientDataPolicy
from alertrouter_ingest.sources.errors import InvalidPayload, describe_validation_error
from alertrouter_ingest.sources.eventbridge import (
    EventBridgeAlarmEvent,
    alarm_notification,
    looks_like_eventbridge_alarm,
)
from alertrouter_ingest.sources.limits import ContentLimits
from alertrouter_ingest.sources.normalise import build_event, clip
from alertrouter_shared.events import AlertAction, AlertEvent, AlertSource, Severity, UtcTimestamp, source_dedup_key

ALARM_ARN = re.compile(r"^arn:(aws[a-z-]*):cloudwatch:([a-z0-9-]+):(\d{12}):alarm:(.+)$")
_CONSOLE_HOSTS = {"aws": "console.aws.amazon.com", "aws-cn": "console.amazonaws.cn"}

_LENIENT = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)
# Trigger parts keep the fields this code does not read, so details carry the trigger as AWS sent it.
_KEEP = ConfigDict(extra="allow", frozen=True, populate_by_name=True)


class Dimension(BaseModel):
    model_config = _KEEP
    name: str
    value: str


class MetricIdentity(BaseModel):
    model_config = _KEEP
    metric_name: str | None = Field(None, alias="MetricName")
    namespace: str | None = Field(None, alias="Namespace")
    dimensions: list[Dimension] = Field(default_factory=list, alias="Dimensions")


class MetricStat(BaseModel):
    model_config = _KEEP
    metric: MetricIdentity = Field(alias="Metric")


class MetricDataQuery(BaseModel):
    model_config = _KEEP
    id: str = Field(alias="Id")
    expression: str | None = Field(None, alias="Expression")
    metric_stat: MetricStat | None = Field(None, alias="MetricStat")


class Trigger(MetricIdentity):
    metrics: list[MetricDataQuery] = Field(default_factory=list, alias="Metrics")


class CloudWatchAlarm(BaseModel):
    model_config = _LENIENT

    alarm_name: str = Field(alias="AlarmName", min_length=1, max_length=255)
    alarm_description: str | None = Field(None, alias="AlarmDescription")
    account_id: str | None = Field(None, alias="AWSAccountId")
    new_state: Literal["ALARM", "OK", "INSUFFICIENT_DATA"] = Field(alias="NewStateValue")
    old_state: str | None = Field(None, alias="OldStateValue")
    reason: str = Field("", alias="NewStateReason")
    state_change_time: UtcTimestamp | None = Field(None, alias="StateChangeTime")
    region_name: str = Field("", alias="Region")
    alarm_arn: str = Field(alias="AlarmArn", pattern=ALARM_ARN.pattern, max_length=320)
    trigger: Trigger | None = Field(None, alias="Trigger")
    alarm_rule: str | None = Field(None, alias="AlarmRule")
    triggering_children: list[dict[str, Any]] | None = Field(None, alias="TriggeringChildren")
    eventbridge_event_id: str | None = Field(None, description="Set when the alarm came as an EventBridge event")


@dataclass(frozen=True)
class SnsContext:
    """The SNS envelope fields worth keeping with the event."""

    message_id: str
    topic_arn: str
    subject: str | None
    timestamp: str


@dataclass(frozen=True)
class Ignored:
    """A verified notification that deliberately produces no event."""

    reason: str


M = TypeVar("M", bound=BaseModel)


def looks_like_alarm(document: object) -> bool:
    return isinstance(document, dict) and "AlarmArn" in document and "NewStateValue" in document


def parse_alarm(message: str) -> CloudWatchAlarm | Ignored:
    """The alarm in an SNS ``Message`` (the alarm's own notification, or EventBridge's state change event);
    Ignored when the message is neither."""
    try:
        document = orjson.loads(message)
    except orjson.JSONDecodeError:
        return Ignored("not_cloudwatch")
    if looks_like_alarm(document):
        return _validated(CloudWatchAlarm, document, "CloudWatch alarm")
    if looks_like_eventbridge_alarm(document):
        event = _validated(EventBridgeAlarmEvent, document, "CloudWatch alarm event")
        notification = alarm_notification(event, ALARM_ARN)
        if notification is None:
            raise InvalidPayload(
                "Message (CloudWatch alarm event): resources: no CloudWatch alarm ARN", reason="invalid_alarm"
            )
        return _validated(CloudWatchAlarm, notification, "CloudWatch alarm event")
    return Ignored("not_cloudwatch")


def _validated(model: type[M], document: Any, what: str) -> M:
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        detail = describe_validation_error(exc)
        raise InvalidPayload(f"Message ({what}): {detail}", reason="invalid_alarm") from exc


def action_for(state: str, policy: InsufficientDataPolicy) -> AlertAction | None:
    if state == "ALARM":
        return AlertAction.TRIGGER
    if state == "OK":
        return AlertAction.RESOLVE
    return {
        InsufficientDataPolicy.IGNORE: None,
        InsufficientDataPolicy.TRIGGER: AlertAction.TRIGGER,
        InsufficientDataPolicy.RESOLVE: AlertAction.RESOLVE,
    }[policy]


def normalise_alarm(
    alarm: CloudWatchAlarm,
    *,
    sns: SnsContext,
    integration_id: str,
    bound_service: str | None,
    received_at: datetime,
    policy: InsufficientDataPolicy,
    limits: ContentLimits,
) -> AlertEvent | Ignored:
    action = action_for(alarm.new_state, policy)
    if action is None:
        return Ignored("insufficient_data")
    labels = alarm_labels(alarm)
    limits.check_labels(labels, "Message (CloudWatch alarm)")
    return build_event(
        source=AlertSource.CLOUDWATCH,
        integration_id=integration_id,
        action=action,
        dedup_key=source_dedup_key("cw", integration_id, alarm.alarm_arn),
        summary=clip(_summary(alarm)),
        severity=Severity.CRITICAL if alarm.new_state == "ALARM" else Severity.WARNING,
        labels=labels,
        details=_details(alarm, sns),
        links=[_console_link(alarm)],
        bound_service=bound_service,
        occurred_at=alarm.state_change_time or received_at,
        received_at=received_at,
        # AWS's own time of this state change, on both actions. The router leaves an alert firing for a resolve
        # from an episode earlier than the current one: an OK retried by SNS or replayed after a later ALARM
        # would otherwise close that ALARM's incident, and CloudWatch never notifies again while it lasts.
        # (An OK at t ends an episode that began at or before t.)
        episode_started_at=alarm.state_change_time,
    )


def alarm_type(alarm: CloudWatchAlarm) -> str:
    if alarm.trigger is None:
        return "composite"
    return "metric_math" if alarm.trigger.metrics else "metric"


def alarm_labels(alarm: CloudWatchAlarm) -> dict[str, str]:
    match = ALARM_ARN.match(alarm.alarm_arn)
    assert match is not None  # the model's pattern guarantees it
    labels = {
        "alarm_name": alarm.alarm_name,
        "aws_region": match.group(2),
        "aws_account_id": alarm.account_id or match.group(3),
        "alarm_type": alarm_type(alarm),
    }
    identity = _watched_metric(alarm.trigger) if alarm.trigger is not None else None
    if identity is not None:
        if identity.namespace:
            labels["namespace"] = identity.namespace
        if identity.metric_name:
            labels["metric_name"] = identity.metric_name
        for dimension in identity.dimensions:
            labels[f"dimension_{dimension.name}"] = dimension.value
    return labels


def _watched_metric(trigger: Trigger) -> MetricIdentity | None:
    """The metric a single-metric alarm watches; for metric math, what all its raw metrics have in common."""
    if not trigger.metrics:
        return trigger
    stats = [query.metric_stat.metric for query in trigger.metrics if query.metric_stat is not None]
    if not stats:
        return None
    namespaces = {m.namespace for m in stats}
    names = {m.metric_name for m in stats}
    shared = set.intersection(*({(d.name, d.value) for d in m.dimensions} for m in stats))
    return MetricIdentity.model_validate(
        {
            "MetricName": names.pop() if len(names) == 1 else None,
            "Namespace": namespaces.pop() if len(namespaces) == 1 else None,
            "Dimensions": [{"name": n, "value": v} for n, v in sorted(shared)],
        }
    )


def _summary(alarm: CloudWatchAlarm) -> str:
    text = f"{alarm.alarm_name} is {alarm.new_state}"
    description = (alarm.alarm_description or "").strip()
    return f"{text}: {description}" if description else text


def _details(alarm: CloudWatchAlarm, sns: SnsContext) -> dict[str, Any]:
    details: dict[str, Any] = {
        "source_dedup_key": alarm.alarm_arn,
        "alarm_arn": alarm.alarm_arn,
        "new_state": alarm.new_state,
        "old_state": alarm.old_state,
        "reason": alarm.reason,
        "state_change_time": alarm.state_change_time.isoformat() if alarm.state_change_time else None,
        "region_name": alarm.region_name,
        "alarm_description": alarm.alarm_description,
        "sns_message_id": sns.message_id,
        "sns_topic_arn": sns.topic_arn,
        "sns_timestamp": sns.timestamp,
    }
    if sns.subject is not None:
        details["sns_subject"] = sns.subject
    if alarm.trigger is not None:
        details["trigger"] = alarm.trigger.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if alarm.alarm_rule is not None:
        details["alarm_rule"] = alarm.alarm_rule
    if alarm.triggering_children is not None:
        details["triggering_children"] = alarm.triggering_children
    if alarm.eventbridge_event_id is not None:
        details["eventbridge_event_id"] = alarm.eventbridge_event_id
    return details


def _console_link(alarm: CloudWatchAlarm) -> str:
    match = ALARM_ARN.match(alarm.alarm_arn)
    assert match is not None
    partition, region = match.group(1), match.group(2)
    host = _CONSOLE_HOSTS.get(partition, "console.amazonaws-us-gov.com")
    return f"https://{host}/cloudwatch/home?region={region}#alarmsV2:alarm/{quote(alarm.alarm_name, safe='')}"
