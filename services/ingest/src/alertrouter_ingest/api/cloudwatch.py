"""``POST /v1/cloudwatch/{integration_key}``: Amazon SNS HTTP(S) subscription carrying CloudWatch alarms.

Nothing happens before the signature is verified, and nothing is fetched before the URL is checked:
envelope (400) -> topic pinning (403) -> signature version, at least the integration's minimum, and encoding (403)
-> certificate URL: https, an SNS host whose middle label is a region, the topic's region (403) -> replay window
and clock skew (403) -> certificate fetch, named for SNS of the URL's region (``sns.amazonaws.com``,
``sns-signing.<region>.amazonaws.com``, ...: sns/subjects.py) and chain (403, or 503 when the certificate or its
issuer could not be downloaded: SNS retries only 5xx) -> signature (403).
Only then: a SubscriptionConfirmation is confirmed (GET SubscribeURL, same host rules), an
UnsubscribeConfirmation is recorded (never re-subscribed), and a Notification's alarm becomes an event.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import Response

from alertrouter_ingest.api import openapi
from alertrouter_ingest.api.problems import ApiProblem, json_response
from alertrouter_ingest.api.schemas import Accepted, SnsEnvelope, SnsOutcome
from alertrouter_ingest.intake import Ingest, invalid
from alertrouter_ingest.integrations import Integration
from alertrouter_ingest.metrics import CLOUDWATCH_IGNORED, SNS_MESSAGES
from alertrouter_ingest.protection import check_content_type
from alertrouter_ingest.sns.envelope import NOTIFICATION, SUBSCRIPTION_CONFIRMATION, SnsMessage, parse_envelope
from alertrouter_ingest.sns.errors import CertificateUnavailable, SignatureRejected
from alertrouter_ingest.sns.signature import check_fresh, check_signature_version, decode_signature, verify_signature
from alertrouter_ingest.sns.subjects import signing_names
from alertrouter_ingest.sns.urls import check_certificate_url, check_subscribe_url
from alertrouter_ingest.sources.cloudwatch import Ignored, SnsContext, normalise_alarm, parse_alarm
from alertrouter_ingest.sources.errors import InvalidPayload
from alertrouter_shared.integrations import IntegrationType
from alertrouter_shared.logging import get_logger

log = get_logger(__name__)
router = APIRouter(tags=["CloudWatch through SNS"])
SOURCE = "cloudwatch"
CONTENT_TYPES = {"text/plain", "application/json"}

RESPONSES: dict[int | str, dict[str, object]] = {
    200: openapi.json_body(SnsOutcome, "Verified; subscription confirmed or unsubscribe recorded, or nothing to do"),
    202: openapi.json_body(Accepted, "Verified; the alarm was produced to Kafka and acknowledged"),
    400: openapi.problem("Not a well-formed SNS message, header/Type mismatch, or an invalid alarm"),
    403: openapi.problem("Signature, certificate, certificate URL, topic or timestamp not acceptable"),
    404: openapi.problem("No enabled cloudwatch integration has this key; nothing was produced"),
    408: openapi.BODY_TIMEOUT,
    413: openapi.problem("The body is over the size limit"),
    415: openapi.problem("Content-Type is neither text/plain nor JSON"),
    503: openapi.problem(
        "Kafka, a certificate download or SubscribeURL failed, too many requests in flight, or the integration "
        "over its rate limit; SNS retries",
        openapi.RETRY_AFTER,
    ),
}


@router.post(
    "/v1/cloudwatch/{integration_key}",
    summary="Amazon SNS subscription endpoint for CloudWatch alarms",
    status_code=202,
    response_model=None,
    responses=RESPONSES,
    openapi_extra=openapi.request_body(SnsEnvelope, "text/plain", "application/json"),
)
async def sns_delivery(integration_key: str, request: Request) -> Response:
    """SubscriptionConfirmation, Notification (a CloudWatch alarm) or UnsubscribeConfirmation."""
    ingest: Ingest = request.app.state.ingest
    return await ingest.guarded(SOURCE, lambda: _accept(ingest, request, integration_key))


async def _accept(ingest: Ingest, request: Request, key: str) -> Response:
    integration = ingest.integration(key, IntegrationType.CLOUDWATCH)
    ingest.check_rate(integration)
    check_content_type(request, CONTENT_TYPES, json_suffix=False)
    body = await ingest.body(request)
    with ingest.admitted(integration):
        return await _verified(ingest, integration, request, body)


async def _verified(ingest: Ingest, integration: Integration, request: Request, body: bytes) -> Response:
    try:
        message = parse_envelope(body, request.headers.get("x-amz-sns-message-type"))
    except InvalidPayload as exc:
        raise invalid(exc) from exc
    try:
        await _verify(ingest, integration, message)
    except SignatureRejected as exc:
        raise ApiProblem(403, exc.detail, reason=exc.reason) from exc
    except CertificateUnavailable as exc:
        raise ApiProblem(
            503,
            f"{exc}; retry later",
            reason="certificate_unavailable",
            retry_after=ingest.settings.retry_after_seconds,
        ) from exc
    SNS_MESSAGES.labels(integration.id, message.type).inc()
    if message.type == SUBSCRIPTION_CONFIRMATION:
        return await _confirm(ingest, integration, message)
    if message.type == NOTIFICATION:
        return await _notification(ingest, integration, message)
    log.warning("sns_unsubscribed", integration=integration.id, topic_arn=message.topic_arn)
    return json_response(200, {"status": "unsubscribed", "reason": None, "events": []})


async def _verify(ingest: Ingest, integration: Integration, message: SnsMessage) -> None:
    if not integration.allow_any_topic and message.topic_arn not in integration.allowed_topic_arns:
        raise SignatureRejected(
            f"TopicArn {message.topic_arn[:256]!r} is not allowed for this integration", "topic_not_allowed"
        )
    check_signature_version(message, integration.min_signature_version)
    signature = decode_signature(message)
    url = check_certificate_url(message.signing_cert_url, ingest.sns_host_pattern, message.topic_arn)
    now = ingest.clock.now()
    max_age = ingest.settings.sns_max_message_age_seconds
    skew = timedelta(seconds=ingest.settings.sns_max_clock_skew_seconds)
    check_fresh(message, now, timedelta(seconds=max_age) if max_age else None, skew)
    names = signing_names(url, message.topic_arn, ingest.settings.sns_certificate_subject)
    public_key = await ingest.certificates.public_key(url, now, names)
    verify_signature(public_key, message, signature)


async def _confirm(ingest: Ingest, integration: Integration, message: SnsMessage) -> Response:
    assert message.subscribe_url is not None  # required for confirmations by parse_envelope
    try:
        url = check_subscribe_url(message.subscribe_url, ingest.sns_host_pattern, message.topic_arn)
    except SignatureRejected as exc:
        raise ApiProblem(403, exc.detail, reason=exc.reason) from exc
    try:
        response = await ingest.http.get(url)
    except httpx.HTTPError as exc:
        raise ApiProblem(
            503,
            f"could not reach SubscribeURL ({type(exc).__name__}); retry later",
            reason="subscribe_unreachable",
            retry_after=ingest.settings.retry_after_seconds,
        ) from exc
    if response.status_code >= 500:
        raise ApiProblem(
            503,
            f"SubscribeURL answered {response.status_code}; retry later",
            reason="subscribe_unreachable",
            retry_after=ingest.settings.retry_after_seconds,
        )
    if response.status_code >= 300:
        raise ApiProblem(
            400, f"SubscribeURL answered {response.status_code}; not confirmed", reason="subscribe_refused"
        )
    log.info("sns_subscription_confirmed", integration=integration.id, topic_arn=message.topic_arn)
    return json_response(200, {"status": "confirmed", "reason": None, "events": []})


async def _notification(ingest: Ingest, integration: Integration, message: SnsMessage) -> Response:
    sns = SnsContext(message.message_id, message.topic_arn, message.subject, message.timestamp)
    try:
        parsed = parse_alarm(message.message)
        outcome = (
            parsed
            if isinstance(parsed, Ignored)
            else normalise_alarm(
                parsed,
                sns=sns,
                integration_id=integration.id,
                bound_service=integration.service,
                received_at=ingest.clock.now(),
                policy=ingest.settings.cloudwatch_insufficient_data,
                limits=ingest.limits,
            )
        )
    except InvalidPayload as exc:
        raise invalid(exc) from exc
    if isinstance(outcome, Ignored):
        CLOUDWATCH_IGNORED.labels(integration.id, outcome.reason).inc()
        log.info(
            "sns_notification_ignored", integration=integration.id, reason=outcome.reason, message_id=sns.message_id
        )
        return json_response(200, {"status": "ignored", "reason": outcome.reason, "events": []})
    refs = await ingest.publish(SOURCE, integration, [outcome])
    return json_response(202, {"status": "accepted", "events": [ref.__dict__ for ref in refs]})
