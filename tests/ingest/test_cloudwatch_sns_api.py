"""CloudWatch through SNS: real signatures (v1 and v2) from a test CA, a local HTTPS certificate host, Kafka."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from alertrouter_ingest.app import create_app
from alertrouter_ingest.publisher import Publisher
from alertrouter_ingest.settings import IngestSettings
from tests.ingest.conftest import CW_ANY_KEY, CW_KEY, AlertsLog, fixture_json, ingest_settings, serve
from tests.ingest.sns_support import Authority, pem, sign
from tests.ingest.sns_world import (
    ALARM_ARN,
    HEADERS,
    SnsWorld,
    message,
    metric,
    now_timestamp,
    post,
    wrap_alarm,
)

# ---------------------------------------------------------------------------------------------- notifications


async def test_signature_v1_alarm_notification_becomes_a_trigger_on_kafka(
    world: SnsWorld, sns_client: httpx.AsyncClient, alerts_log: AlertsLog
) -> None:
    body = sign(message(world, "cloudwatch/sns-alarm-notification.json"), world.key)
    response = await post(sns_client, body)
    assert response.status_code == 202, response.text
    (ref,) = response.json()["events"]
    assert ref["dedup_key"] == f"cw:test-cw:{ALARM_ARN}"
    ((key, event),) = await alerts_log.events([ref["event_id"]])
    assert key == f"cw:test-cw:{ALARM_ARN}".encode()
    assert event["source"] == "cloudwatch"
    assert event["action"] == "trigger"
    assert event["bound_service"] == "checkout"
    assert event["summary"] == "prod-checkout-alb-5xx-high is ALARM: Target 5xx responses on the prod checkout ALB"
    assert event["labels"] == {
        "alarm_name": "prod-checkout-alb-5xx-high",
        "aws_region": "eu-west-1",
        "aws_account_id": "111122223333",
        "alarm_type": "metric",
        "namespace": "AWS/ApplicationELB",
        "metric_name": "HTTPCode_Target_5XX_Count",
        "dimension_LoadBalancer": "app/prod-checkout/50dc6c495c0c9188",
    }
    assert event["occurred_at"] == "2025-06-03T09:15:32.481000Z"
    details = event["details"]
    assert details["source_dedup_key"] == ALARM_ARN
    assert details["region_name"] == "EU (Ireland)"
    assert details["reason"].startswith("Threshold Crossed: 3 out of the last 5 datapoints")
    assert details["sns_message_id"] == body["MessageId"]
    assert details["sns_subject"] == body["Subject"]
    assert details["trigger"]["Threshold"] == 50.0
    assert event["links"] == [
        "https://console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:alarm/prod-checkout-alb-5xx-high"
    ]


async def test_signature_v2_ok_notification_resolves(
    world: SnsWorld, sns_client: httpx.AsyncClient, alerts_log: AlertsLog
) -> None:
    body = message(world, "cloudwatch/sns-ok-notification-sigv2.json")
    assert body["SignatureVersion"] == "2"
    response = await post(sns_client, sign(body, world.key))
    assert response.status_code == 202, response.text
    ((_, event),) = await alerts_log.events([response.json()["events"][0]["event_id"]])
    assert event["action"] == "resolve"
    assert event["dedup_key"] == f"cw:test-cw:{ALARM_ARN}"


async def test_signature_v2_message_signed_with_sha1_is_refused(world: SnsWorld, sns_client: httpx.AsyncClient) -> None:
    body = sign(message(world, "cloudwatch/sns-ok-notification-sigv2.json"), world.key, version="1")
    body["SignatureVersion"] = "2"
    response = await post(sns_client, body)
    assert response.status_code == 403
    assert response.json()["detail"] == "the signature does not match the message"


async def test_composite_alarm_links_its_children(
    world: SnsWorld, sns_client: httpx.AsyncClient, alerts_log: AlertsLog
) -> None:
    body = sign(message(world, "cloudwatch/sns-composite-notification.json"), world.key)
    response = await post(sns_client, body)
    assert response.status_code == 202, response.text
    ((_, event),) = await alerts_log.events([response.json()["events"][0]["event_id"]])
    assert event["labels"]["alarm_type"] == "composite"
    assert event["dedup_key"] == "cw:test-cw:arn:aws:cloudwatch:eu-west-1:111122223333:alarm:prod-checkout-degraded"
    assert event["details"]["triggering_children"][0]["Arn"] == ALARM_ARN
    assert "ALARM(" in event["details"]["alarm_rule"]


async def test_metric_math_alarm_pages_without_a_top_level_metric(
    world: SnsWorld, sns_client: httpx.AsyncClient, alerts_log: AlertsLog
) -> None:
    response = await post(sns_client, wrap_alarm(world, "alarm-metric-math.json", version="2"))
    assert response.status_code == 202, response.text
    ((_, event),) = await alerts_log.events([response.json()["events"][0]["event_id"]])
    assert event["action"] == "trigger"
    assert event["labels"]["alarm_type"] == "metric_math"
    assert event["labels"]["namespace"] == "AWS/ApiGateway"
    assert event["labels"]["dimension_ApiName"] == "prod-api"
    assert "metric_name" not in event["labels"]


async def test_insufficient_data_is_ignored_by_default_and_counted(
    world: SnsWorld, sns_client: httpx.AsyncClient, alerts_log: AlertsLog
) -> None:
    before_count = metric(
        "alertrouter_ingest_cloudwatch_ignored_total", integration="test-cw", reason="insufficient_data"
    )
    before = await alerts_log.end_offsets()
    response = await post(sns_client, wrap_alarm(world, "alarm-insufficient-data.json"))
    assert response.status_code == 200
    assert response.json() == {"status": "ignored", "reason": "insufficient_data", "events": []}
    assert await alerts_log.produced_since(before) == []
    after_count = metric(
        "alertrouter_ingest_cloudwatch_ignored_total", integration="test-cw", reason="insufficient_data"
    )
    assert after_count == before_count + 1


async def test_insufficient_data_policy_is_configurable(
    world: SnsWorld, kafka_bootstrap: str, ingest_publisher: Publisher, alerts_log: AlertsLog
) -> None:
    settings = world.settings(kafka_bootstrap, cloudwatch_insufficient_data="trigger")
    async with serve(create_app(settings, publisher=ingest_publisher)) as client:
        response = await post(client, wrap_alarm(world, "alarm-insufficient-data.json"))
    assert response.status_code == 202
    ((_, event),) = await alerts_log.events([response.json()["events"][0]["event_id"]])
    assert event["action"] == "trigger"
    assert event["severity"] == "warning"


async def test_notification_that_is_not_a_cloudwatch_alarm_is_acknowledged_and_ignored(
    world: SnsWorld, sns_client: httpx.AsyncClient, alerts_log: AlertsLog
) -> None:
    before = await alerts_log.end_offsets()
    body = sign(message(world, "cloudwatch/sns-alarm-notification.json", Message="hello from a human"), world.key)
    response = await post(sns_client, body)
    assert response.status_code == 200
    assert response.json()["reason"] == "not_cloudwatch"
    assert await alerts_log.produced_since(before) == []


async def test_invalid_cloudwatch_alarm_is_400_naming_the_field(world: SnsWorld, sns_client: httpx.AsyncClient) -> None:
    alarm = fixture_json("cloudwatch/alarm-in-alarm.json")
    alarm["NewStateValue"] = "PANIC"
    body = sign(message(world, "cloudwatch/sns-alarm-notification.json", Message=json.dumps(alarm)), world.key)
    response = await post(sns_client, body)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Message (CloudWatch alarm): NewStateValue: Input should be")


# ---------------------------------------------------------------------------------------------- forgeries


async def test_tampered_message_or_subject_is_refused_and_nothing_is_produced(
    world: SnsWorld, sns_client: httpx.AsyncClient, alerts_log: AlertsLog
) -> None:
    before = await alerts_log.end_offsets()
    signed = sign(message(world, "cloudwatch/sns-alarm-notification.json"), world.key)
    tampered_message = {**signed, "Message": signed["Message"].replace("ALARM", "OK", 1)}
    tampered_subject = {**signed, "Subject": "OK: nothing to see"}
    for body in (tampered_message, tampered_subject):
        response = await post(sns_client, body)
        assert response.status_code == 403
        assert response.json()["detail"] == "the signature does not match the message"
    assert await alerts_log.produced_since(before) == []


async def test_signature_by_a_key_the_certificate_does_not_hold_is_refused(
    world: SnsWorld, sns_client: httpx.AsyncClient
) -> None:
    _, other_key = world.root.signing_certificate()
    response = await post(sns_client, sign(message(world, "cloudwatch/sns-alarm-notification.json"), other_key))
    assert response.status_code == 403


@pytest.mark.parametrize(
    "fixture",
    [
        "cloudwatch/sns-alarm-notification.json",
        "cloudwatch/sns-ok-notification-sigv2.json",
        "cloudwatch/sns-composite-notification.json",
        "cloudwatch/sns-subscription-confirmation.json",
        "cloudwatch/sns-unsubscribe-confirmation.json",
    ],
)
async def test_fixtures_unchanged_carry_a_placeholder_signature_and_are_refused_without_any_fetch(
    world: SnsWorld, sns_client: httpx.AsyncClient, fixture: str
) -> None:
    hits = world.host.total_hits()
    raw = (Path(__file__).resolve().parents[1] / "fixtures" / fixture).read_bytes()
    name = fixture.split("/")[1]
    response = await sns_client.post(f"/v1/cloudwatch/{CW_KEY}", content=raw, headers=HEADERS[name])
    assert response.status_code == 403
    assert response.json()["detail"] == "Signature is not valid Base64"
    assert world.host.total_hits() == hits


async def test_expired_signing_certificate_is_refused(world: SnsWorld, sns_client: httpx.AsyncClient) -> None:
    certificate, key = world.root.signing_certificate(expired=True)
    world.host.files["/SimpleNotificationService-expired.pem"] = pem(certificate)
    body = message(world, "cloudwatch/sns-alarm-notification.json")
    body["SigningCertURL"] = world.host.base + "/SimpleNotificationService-expired.pem"
    response = await post(sns_client, sign(body, key))
    assert response.status_code == 403
    assert "not valid at validation time" in response.json()["detail"]


async def test_certificate_from_an_untrusted_ca_is_refused(world: SnsWorld, sns_client: httpx.AsyncClient) -> None:
    stranger = Authority.root("Somebody Else's CA")
    certificate, key = stranger.signing_certificate()
    world.host.files["/SimpleNotificationService-stranger.pem"] = pem(certificate)
    body = message(world, "cloudwatch/sns-alarm-notification.json")
    body["SigningCertURL"] = world.host.base + "/SimpleNotificationService-stranger.pem"
    response = await post(sns_client, sign(body, key))
    assert response.status_code == 403
    assert response.json()["detail"].startswith("the signing certificate is not trusted")


async def test_production_defaults_trust_no_test_ca_and_no_local_host(
    world: SnsWorld, kafka_bootstrap: str, ingest_publisher: Publisher
) -> None:
    body = sign(message(world, "cloudwatch/sns-alarm-notification.json"), world.key)
    hits = world.host.total_hits()
    async with serve(create_app(ingest_settings(kafka_bootstrap), publisher=ingest_publisher)) as client:
        response = await post(client, body)
    assert response.status_code == 403
    assert response.json()["detail"] == "SigningCertURL host 'localhost' is not an Amazon SNS host"
    assert world.host.total_hits() == hits


@pytest.mark.parametrize(
    ("fixture", "detail"),
    [
        ("sns-cert-url-non-aws-host.json", "SigningCertURL host 'certs.attacker.example' is not an Amazon SNS host"),
        (
            "sns-cert-url-lookalike-host.json",
            "SigningCertURL host 'sns.eu-west-1.amazonaws.com.attacker.example' is not an Amazon SNS host",
        ),
        (
            "sns-cert-url-s3-bucket-on-amazonaws.json",
            "SigningCertURL host 's3.amazonaws.com' is not an Amazon SNS host",
        ),
        ("sns-cert-url-http-scheme.json", "SigningCertURL must use https"),
        (
            "sns-cert-url-not-ending-in-pem.json",
            "SigningCertURL must be a path ending in .pem, with no query or fragment",
        ),
    ],
)
async def test_bad_certificate_urls_are_refused_before_any_request_even_when_validly_signed(
    world: SnsWorld, kafka_bootstrap: str, ingest_publisher: Publisher, fixture: str, detail: str
) -> None:
    """Production host rules. Had the URL passed, the fetch would fail (503): a 403 proves nothing was fetched."""
    body = fixture_json(f"bad/{fixture}")
    body["Timestamp"] = now_timestamp()
    async with serve(create_app(ingest_settings(kafka_bootstrap), publisher=ingest_publisher)) as client:
        response = await post(client, sign(body, world.key))
    assert response.status_code == 403
    assert response.json()["detail"] == detail


@pytest.mark.parametrize(
    ("fixture", "status", "detail"),
    [
        ("sns-unsupported-signature-version.json", 403, "SignatureVersion '3' is not supported (1 or 2)"),
        ("sns-missing-signature.json", 403, "the message is not signed (no Signature)"),
        ("sns-unknown-type.json", 400, "Type: unknown SNS message type 'Notice'"),
        (
            "sns-subscription-confirmation-missing-token.json",
            400,
            "Token is missing in an SNS SubscriptionConfirmation",
        ),
    ],
)
async def test_structurally_bad_messages_are_refused_without_any_fetch(
    world: SnsWorld, sns_client: httpx.AsyncClient, fixture: str, status: int, detail: str
) -> None:
    hits = world.host.total_hits()
    body = fixture_json(f"bad/{fixture}")
    body["SigningCertURL"] = world.cert_url
    response = await post(sns_client, body, kind=body["Type"])
    assert response.status_code == status
    assert response.json()["detail"] == detail
    assert world.host.total_hits() == hits


async def test_topic_not_on_the_allow_list_is_403_even_when_signed(
    world: SnsWorld, sns_client: httpx.AsyncClient, alerts_log: AlertsLog
) -> None:
    body = fixture_json("bad/sns-unexpected-topic-arn.json")
    body.update(SigningCertURL=world.cert_url, Timestamp=now_timestamp())
    hits = world.host.total_hits()
    response = await post(sns_client, sign(body, world.key))
    assert response.status_code == 403
    assert "is not allowed for this integration" in response.json()["detail"]
    assert world.host.total_hits() == hits
    accepted = await post(sns_client, sign(body, world.key), key=CW_ANY_KEY)
    assert accepted.status_code == 202


async def test_header_type_must_match_the_body(world: SnsWorld, sns_client: httpx.AsyncClient) -> None:
    body = sign(message(world, "cloudwatch/sns-alarm-notification.json"), world.key)
    mismatch = await post(sns_client, body, kind="SubscriptionConfirmation")
    assert mismatch.status_code == 400
    assert "does not match the body's Type" in mismatch.json()["detail"]
    content = json.dumps(body).encode()
    missing = await sns_client.post(f"/v1/cloudwatch/{CW_KEY}", content=content, headers={"Content-Type": "text/plain"})
    assert missing.status_code == 400


async def test_replayed_message_outside_the_window_is_refused(world: SnsWorld, sns_client: httpx.AsyncClient) -> None:
    body = message(world, "cloudwatch/sns-alarm-notification.json")
    body["Timestamp"] = "2025-06-03T09:15:32.545Z"
    response = await post(sns_client, sign(body, world.key))
    assert response.status_code == 403
    assert "older than the replay window" in response.json()["detail"]


async def test_raw_message_delivery_is_refused(world: SnsWorld, sns_client: httpx.AsyncClient) -> None:
    raw = json.dumps(fixture_json("cloudwatch/alarm-in-alarm.json")).encode()
    response = await post(sns_client, raw, kind="Notification")
    assert response.status_code == 400
    assert "raw message delivery is not supported" in response.json()["detail"]


# ---------------------------------------------------------------------------------------------- subscriptions


def confirmation(world: SnsWorld, fixture: str, path: str) -> dict[str, Any]:
    body = message(world, fixture)
    body["SubscribeURL"] = f"{world.host.base}{path}?Action=ConfirmSubscription&Token={body['Token'][:16]}"
    world.host.files[path] = b"<ConfirmSubscriptionResponse/>"
    return sign(body, world.key)


async def test_verified_subscription_confirmation_gets_subscribe_url_exactly_once(
    world: SnsWorld, sns_client: httpx.AsyncClient, alerts_log: AlertsLog
) -> None:
    body = confirmation(world, "cloudwatch/sns-subscription-confirmation.json", "/confirm-1")
    before = await alerts_log.end_offsets()
    response = await post(sns_client, body)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "confirmed", "reason": None, "events": []}
    assert sum(n for p, n in world.host.hits.items() if p.startswith("/confirm-1?")) == 1
    assert await alerts_log.produced_since(before) == []


async def test_subscribe_url_on_a_foreign_host_is_never_fetched(world: SnsWorld, sns_client: httpx.AsyncClient) -> None:
    body = fixture_json("bad/sns-subscribe-url-non-aws-host.json")
    body.update(SigningCertURL=world.cert_url, Timestamp=now_timestamp())
    response = await post(sns_client, sign(body, world.key))
    assert response.status_code == 403
    assert response.json()["detail"] == "SubscribeURL host 'attacker.example' is not an Amazon SNS host"


async def test_unsubscribe_confirmation_is_recorded_and_never_resubscribes(
    world: SnsWorld, sns_client: httpx.AsyncClient
) -> None:
    body = confirmation(world, "cloudwatch/sns-unsubscribe-confirmation.json", "/confirm-unsub")
    response = await post(sns_client, body)
    assert response.status_code == 200
    assert response.json()["status"] == "unsubscribed"
    assert not any(p.startswith("/confirm-unsub") for p in world.host.hits)


async def test_subscribe_url_failures(world: SnsWorld, sns_client: httpx.AsyncClient) -> None:
    world.host.status_override["/confirm-5xx"] = 503
    world.host.status_override["/confirm-4xx"] = 403
    unavailable = await post(
        sns_client, confirmation(world, "cloudwatch/sns-subscription-confirmation.json", "/confirm-5xx")
    )
    refused = await post(
        sns_client, confirmation(world, "cloudwatch/sns-subscription-confirmation.json", "/confirm-4xx")
    )
    assert unavailable.status_code == 503 and unavailable.headers["retry-after"] == "5"
    assert refused.status_code == 400
    assert refused.json()["detail"] == "SubscribeURL answered 403; not confirmed"


# ---------------------------------------------------------------------------------------------- certificates


async def test_certificate_is_fetched_once_and_cached(
    world: SnsWorld, kafka_bootstrap: str, ingest_publisher: Publisher
) -> None:
    certificate, key = world.root.signing_certificate()
    path = "/SimpleNotificationService-cached.pem"
    world.host.files[path] = pem(certificate)
    async with serve(create_app(world.settings(kafka_bootstrap), publisher=ingest_publisher)) as client:
        for _ in range(3):
            body = message(world, "cloudwatch/sns-alarm-notification.json")
            body["SigningCertURL"] = world.host.base + path
            assert (await post(client, sign(body, key))).status_code == 202
    assert world.host.hits[path] == 1


async def test_certificate_host_errors(world: SnsWorld, sns_client: httpx.AsyncClient) -> None:
    world.host.status_override["/SimpleNotificationService-down.pem"] = 500
    body = message(world, "cloudwatch/sns-alarm-notification.json")
    body["SigningCertURL"] = world.host.base + "/SimpleNotificationService-down.pem"
    down = await post(sns_client, sign(body, world.key))
    assert down.status_code == 503
    assert down.headers["retry-after"] == "5"
    body["SigningCertURL"] = world.host.base + "/SimpleNotificationService-missing.pem"
    missing = await post(sns_client, sign(body, world.key))
    assert missing.status_code == 503
    assert missing.json()["detail"] == "the signing certificate host answered 404; retry later"
    world.host.files["/SimpleNotificationService-garbage.pem"] = b"not a certificate"
    body["SigningCertURL"] = world.host.base + "/SimpleNotificationService-garbage.pem"
    garbage = await post(sns_client, sign(body, world.key))
    assert garbage.status_code == 403


async def test_chain_through_an_intermediate_bundled_or_fetched_by_aia(
    world: SnsWorld, kafka_bootstrap: str, ingest_publisher: Publisher
) -> None:
    intermediate = world.root.intermediate()
    aia_path = "/intermediate.der"
    world.host.files[aia_path] = intermediate.certificate.public_bytes(serialization.Encoding.DER)
    certificate, key = intermediate.signing_certificate(aia_url=world.host.base + aia_path)
    world.host.files["/SimpleNotificationService-bundle.pem"] = pem(certificate) + intermediate.pem()
    world.host.files["/SimpleNotificationService-leaf.pem"] = pem(certificate)

    async def status(settings: IngestSettings, path: str) -> int:
        body = message(world, "cloudwatch/sns-alarm-notification.json")
        body["SigningCertURL"] = world.host.base + path
        async with serve(create_app(settings, publisher=ingest_publisher)) as client:
            return (await post(client, sign(body, key))).status_code

    default = world.settings(kafka_bootstrap)
    with_aia = world.settings(kafka_bootstrap, sns_aia_host_pattern=r"^localhost$")
    assert await status(default, "/SimpleNotificationService-bundle.pem") == 202
    assert await status(default, "/SimpleNotificationService-leaf.pem") == 403  # AIA host not allowed
    assert world.host.hits[aia_path] == 0
    assert await status(with_aia, "/SimpleNotificationService-leaf.pem") == 202
    assert world.host.hits[aia_path] == 1


# ---------------------------------------------------------------------------------------------- EventBridge


def wrap_eventbridge(world: SnsWorld, event: dict[str, Any]) -> dict[str, Any]:
    """An EventBridge event delivered by an SNS target: the event JSON is the Message, and there is no Subject."""
    body = message(world, "cloudwatch/sns-alarm-notification.json", Message=json.dumps(event))
    del body["Subject"]
    return sign(body, world.key)


async def test_eventbridge_alarm_state_change_pages_like_the_alarms_own_notification(
    world: SnsWorld, sns_client: httpx.AsyncClient, alerts_log: AlertsLog
) -> None:
    """An EventBridge rule on "CloudWatch Alarm State Change" targeting the topic: the same alarm, the same event
    as the alarm's own SNS action (same dedup key, so either path triggers and resolves the same alert)."""
    classic = await post(sns_client, wrap_alarm(world, "alarm-in-alarm.json"))
    event = fixture_json("cloudwatch/eventbridge-alarm-state-change.json")
    bridged = await post(sns_client, wrap_eventbridge(world, event))
    event["detail"]["previousState"], event["detail"]["state"]["value"] = event["detail"]["state"], "OK"
    resolved = await post(sns_client, wrap_eventbridge(world, event))
    assert [r.status_code for r in (classic, bridged, resolved)] == [202, 202, 202], bridged.text
    ids = [r.json()["events"][0]["event_id"] for r in (classic, bridged, resolved)]
    (_, from_alarm), (_, from_eventbridge), (_, ok) = await alerts_log.events(ids)
    same = ("dedup_key", "action", "severity", "summary", "labels", "occurred_at", "links")
    assert {k: from_eventbridge[k] for k in same} == {k: from_alarm[k] for k in same}
    assert from_eventbridge["dedup_key"] == f"cw:test-cw:{ALARM_ARN}"
    assert from_eventbridge["details"]["reason"] == from_alarm["details"]["reason"]
    assert from_eventbridge["details"]["eventbridge_event_id"] == event["id"]
    assert (ok["action"], ok["dedup_key"]) == ("resolve", from_alarm["dedup_key"])


async def test_eventbridge_metric_math_and_composite_alarms(
    world: SnsWorld, sns_client: httpx.AsyncClient, alerts_log: AlertsLog
) -> None:
    math, composite = (
        fixture_json(f"cloudwatch/eventbridge-alarm-state-change{suffix}.json")
        for suffix in ("-metric-math", "-composite")
    )
    responses = [await post(sns_client, wrap_eventbridge(world, event)) for event in (math, composite)]
    assert [r.status_code for r in responses] == [202, 202], responses[0].text
    (_, math_event), (_, composite_event) = await alerts_log.events(
        r.json()["events"][0]["event_id"] for r in responses
    )
    assert math_event["labels"] == {
        "alarm_name": "prod-api-error-rate",
        "aws_region": "eu-west-1",
        "aws_account_id": "111122223333",
        "alarm_type": "metric_math",
        "namespace": "AWS/ApiGateway",
        "dimension_ApiName": "prod-api",
    }
    assert composite_event["labels"]["alarm_type"] == "composite"
    assert (
        composite_event["dedup_key"]
        == "cw:test-cw:arn:aws:cloudwatch:eu-west-1:111122223333:alarm:prod-checkout-degraded"
    )
    assert composite_event["details"]["alarm_rule"].startswith('ALARM("prod-checkout-alb-5xx-high")')
    assert composite_event["details"]["triggering_children"][0]["Arn"] == ALARM_ARN


async def test_other_eventbridge_events_are_ignored_and_a_bad_alarm_event_is_400(
    world: SnsWorld, sns_client: httpx.AsyncClient
) -> None:
    event = fixture_json("cloudwatch/eventbridge-alarm-state-change.json")
    configuration_change = {**event, "detail-type": "CloudWatch Alarm Configuration Change"}
    ignored = await post(sns_client, wrap_eventbridge(world, configuration_change))
    event["detail"]["state"]["value"] = "PANIC"
    invalid = await post(sns_client, wrap_eventbridge(world, event))
    assert ignored.status_code == 200
    assert ignored.json()["reason"] == "not_cloudwatch"
    assert invalid.status_code == 400
    assert invalid.json()["detail"].startswith("Message (CloudWatch alarm event): detail.state.value: Input should be")
