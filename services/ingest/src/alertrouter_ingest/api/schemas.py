"""Response bodies, and the request bodies ingest parses by hand, described for the OpenAPI document."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class AcceptedEvent(BaseModel):
    event_id: str = Field(description="Id of the alert event produced to Kafka")
    dedup_key: str = Field(description="The scoped dedup key (am:/cw:/ev2:<integration>:<source key>)")


class Accepted(BaseModel):
    """Kafka acknowledged every event of the request."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "accepted",
                    "events": [
                        {
                            "event_id": "0b5f7d1c-6a57-4f05-9a3c-2b1f1c9d2e11",
                            "dedup_key": "am:prod-alertmanager:87a9643cd6a8de19",
                        }
                    ],
                }
            ]
        }
    )

    status: Literal["accepted"] = "accepted"
    events: list[AcceptedEvent]


class Ignored(BaseModel):
    """A valid request that deliberately produced nothing; 2xx so that the sender does not retry it."""

    status: Literal["ignored"] = "ignored"
    reason: str
    events: list[AcceptedEvent] = Field(default_factory=list)


class SnsOutcome(BaseModel):
    """A verified SNS message that produced no alert event."""

    status: Literal["confirmed", "unsubscribed", "ignored"]
    reason: str | None = None
    events: list[AcceptedEvent] = Field(default_factory=list)


class EnqueueSuccess(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"status": "success", "message": "Event processed", "dedup_key": "prod/checkout-api/HighErrorRate"}
            ]
        }
    )

    status: Literal["success"] = "success"
    message: Literal["Event processed"] = "Event processed"
    dedup_key: str


class EnqueueInvalid(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "invalid event",
                    "message": "Event object is invalid",
                    "errors": ["Length of 'routing_key' is incorrect (should be 32 characters)"],
                }
            ]
        }
    )

    status: Literal["invalid event"] = "invalid event"
    message: Literal["Event object is invalid"] = "Event object is invalid"
    errors: list[str]


class EnqueueThrottled(BaseModel):
    status: Literal["throttle event"] = "throttle event"
    message: str
    errors: list[str] = Field(default_factory=list)


class EventPayload(BaseModel):
    summary: str = Field(max_length=1024)
    source: str
    severity: Literal["critical", "error", "warning", "info"]
    timestamp: str | None = Field(None, description="ISO 8601; the receive time when absent")
    component: str | None = None
    group: str | None = None
    class_: str | None = Field(None, alias="class")
    custom_details: dict[str, Any] | None = None


class Link(BaseModel):
    href: str
    text: str | None = None


class Image(BaseModel):
    src: str
    href: str | None = None
    alt: str | None = None


class EnqueueEvent(BaseModel):
    """A PagerDuty Events API v2 event (``payload`` is required for trigger, ignored otherwise)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "routing_key": "devevents00000000000000000000000",
                    "event_action": "trigger",
                    "dedup_key": "prod/checkout-api/HighErrorRate",
                    "payload": {
                        "summary": "[prod] checkout-api 5xx ratio 7.3% > 5% for 10m",
                        "source": "checkout-api.shop.svc.cluster.local",
                        "severity": "critical",
                        "component": "checkout-api",
                        "group": "shop",
                        "class": "http 5xx ratio",
                        "custom_details": {"service": "checkout", "error_ratio": 0.073},
                    },
                    "links": [{"href": "https://runbooks.example.com/checkout", "text": "Runbook"}],
                },
                {
                    "routing_key": "devevents00000000000000000000000",
                    "event_action": "resolve",
                    "dedup_key": "prod/checkout-api/HighErrorRate",
                },
            ]
        }
    )

    routing_key: str = Field(min_length=32, max_length=32, pattern="^[A-Za-z0-9]{32}$")
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: str | None = Field(None, max_length=255, description="Required for acknowledge and resolve")
    payload: EventPayload | None = None
    client: str | None = None
    client_url: str | None = None
    links: list[Link] | None = None
    images: list[Image] | None = None


class SnsEnvelope(BaseModel):
    """An Amazon SNS HTTP(S) delivery (sent as text/plain). Every field is a string."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "Type": "Notification",
                    "MessageId": "9e1c2b7a-4f3d-5a8e-b1c6-0d2f3a4b5c6d",
                    "TopicArn": "arn:aws:sns:eu-west-1:111122223333:prod-alarms",
                    "Subject": 'ALARM: "prod-checkout-alb-5xx-high" in EU (Ireland)',
                    "Message": '{"AlarmName":"prod-checkout-alb-5xx-high","NewStateValue":"ALARM",...}',
                    "Timestamp": "2025-06-03T09:15:32.545Z",
                    "SignatureVersion": "1",
                    "Signature": "EXAMPLE-BASE64-SIGNATURE",
                    "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-example.pem",
                    "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=...",
                }
            ]
        }
    )

    Type: Literal["Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"]
    MessageId: str
    TopicArn: str
    Message: str = Field(description="For CloudWatch: the alarm as a JSON string")
    Timestamp: str
    SignatureVersion: Literal["1", "2"]
    Signature: str
    SigningCertURL: str
    Subject: str | None = None
    Token: str | None = Field(None, description="Confirmations only")
    SubscribeURL: str | None = Field(None, description="Confirmations only")
    UnsubscribeURL: str | None = None


class ChangeEnqueueSuccess(BaseModel):
    status: Literal["success"] = "success"
    message: Literal["Change event processed"] = "Change event processed"


class ChangePayload(BaseModel):
    summary: str = Field(max_length=1024)
    source: str | None = None
    timestamp: str | None = Field(None, description="ISO 8601; the receive time when absent")
    custom_details: dict[str, Any] | None = None


class ChangeEnqueueEvent(BaseModel):
    """A PagerDuty change event: recorded for the routing key's service, never pages."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "routing_key": "devevents00000000000000000000000",
                    "payload": {
                        "summary": "Deployed checkout-api v2.3.0",
                        "timestamp": "2025-06-03T09:00:12.000+0000",
                        "source": "ci-pipeline",
                        "custom_details": {"version": "v2.3.0", "commit": "9f1c2e7"},
                    },
                    "links": [{"href": "https://ci.example.com/builds/812", "text": "Build 812"}],
                }
            ]
        }
    )

    routing_key: str = Field(min_length=32, max_length=32, pattern="^[A-Za-z0-9]{32}$")
    payload: ChangePayload
    links: list[Link] | None = None


class ConfigInForce(BaseModel):
    """The configuration this ingest worker serves: compare ``source_version`` with every router process's."""

    source_version: str | None = Field(
        description="sha256 of the configuration's files (the router reports the same); null without a configuration"
    )
    loaded_at: str = Field(description="when this worker loaded it (RFC 3339)")
    integrations: int = Field(description="enabled integrations with a key")
    last_reload_rejected_at: str | None = Field(
        description="when a newer configuration was last refused (the log says why); null after a good reload"
    )
    last_reload_errors: int = Field(description="how many problems the refused configuration had")
