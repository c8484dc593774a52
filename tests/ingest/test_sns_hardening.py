"""SNS trust, tightened: topic pinning required, the certificate host's region label, the certificate's subject,
messages from the future, a minimum SignatureVersion per integration -- and inputs that once answered 500.

Every message here is really signed (test CA in sns_support.py), so each refusal is for the rule under test.
"""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest

from alertrouter_ingest.app import create_app
from alertrouter_ingest.publisher import Publisher
from tests.ingest.conftest import CW_ANY_KEY, CW_V2_KEY, AlertsLog, ingest_settings, serve
from tests.ingest.sns_support import pem, sign
from tests.ingest.sns_world import SnsWorld, message, post

NOTIFICATION = "cloudwatch/sns-alarm-notification.json"
LOOSE_SNS_HOSTS = r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$"  # the pattern before region labels were checked


def stamped(offset: dt.timedelta) -> str:
    return (dt.datetime.now(dt.UTC) + offset).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@pytest.mark.parametrize("host_pattern", [None, LOOSE_SNS_HOSTS])
async def test_certificate_host_whose_middle_label_is_not_a_region_is_refused_before_any_fetch(
    world: SnsWorld, kafka_bootstrap: str, ingest_publisher: Publisher, host_pattern: str | None
) -> None:
    """``sns.s3.amazonaws.com`` is an S3 bucket named "sns"; the attacker writes region "s3" into its TopicArn."""
    overrides = {} if host_pattern is None else {"sns_cert_host_pattern": host_pattern}
    body = message(
        world,
        NOTIFICATION,
        TopicArn="arn:aws:sns:s3:444455556666:attacker",
        SigningCertURL="https://sns.s3.amazonaws.com/SimpleNotificationService-x.pem",
    )
    async with serve(create_app(ingest_settings(kafka_bootstrap, **overrides), publisher=ingest_publisher)) as client:
        response = await post(client, sign(body, world.key), key=CW_ANY_KEY)
    assert response.status_code == 403
    detail = response.json()["detail"]
    if host_pattern is None:
        assert detail == "SigningCertURL host 'sns.s3.amazonaws.com' is not an Amazon SNS host"
    else:
        assert detail == "SigningCertURL host 'sns.s3.amazonaws.com' does not name an AWS region"


async def test_certificate_for_another_subject_is_refused_though_the_ca_is_trusted(
    world: SnsWorld, sns_client: httpx.AsyncClient, alerts_log: AlertsLog
) -> None:
    certificate, key = world.root.signing_certificate(common_name="shop.example.com")
    world.host.files["/SimpleNotificationService-shop.pem"] = pem(certificate)
    body = message(world, NOTIFICATION, SigningCertURL=world.host.base + "/SimpleNotificationService-shop.pem")
    before = await alerts_log.end_offsets()
    response = await post(sns_client, sign(body, key))
    assert response.status_code == 403
    detail = response.json()["detail"]
    assert detail == "the signing certificate is issued to shop.example.com, not to sns.amazonaws.com"
    assert await alerts_log.produced_since(before) == []


@pytest.mark.parametrize(
    ("offset", "status"),
    [(dt.timedelta(minutes=4), 202), (dt.timedelta(minutes=6), 403), (dt.timedelta(days=3650), 403)],
)
async def test_timestamp_more_than_five_minutes_ahead_is_refused(
    world: SnsWorld, sns_client: httpx.AsyncClient, offset: dt.timedelta, status: int
) -> None:
    body = message(world, NOTIFICATION, Timestamp=stamped(offset))
    response = await post(sns_client, sign(body, world.key))
    assert response.status_code == status, response.text
    if status == 403:
        assert response.json()["detail"].endswith("is in the future")


async def test_min_signature_version_refuses_sha1_for_that_integration_only(
    world: SnsWorld, sns_client: httpx.AsyncClient
) -> None:
    sha1 = sign(message(world, NOTIFICATION), world.key, version="1")
    sha256 = sign(message(world, NOTIFICATION), world.key, version="2")
    refused = await post(sns_client, sha1, key=CW_V2_KEY)
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith("SignatureVersion 1 is refused by this integration")
    assert (await post(sns_client, sha256, key=CW_V2_KEY)).status_code == 202
    assert (await post(sns_client, sha1)).status_code == 202  # test-cw keeps the default minimum (1)


@pytest.mark.parametrize(
    ("changes", "detail"),
    [
        (
            {"SigningCertURL": "https://localhost/SimpleNotification\nService.pem"},
            "SigningCertURL contains spaces, control or non-ASCII characters",
        ),
        ({"Timestamp": "9999-12-31T23:59:59-23:59"}, "Timestamp 9999-12-31T23:59:59-23:59 is in the future"),
        (
            {"Timestamp": "0001-01-01T00:00:00+23:59"},
            "Timestamp 0001-01-01T00:00:00+23:59 is older than the replay window",
        ),
    ],
)
async def test_inputs_that_answered_500_or_could_overflow_are_refused(
    world: SnsWorld, sns_client: httpx.AsyncClient, changes: dict[str, str], detail: str
) -> None:
    hits = world.host.total_hits()
    response = await post(sns_client, sign(message(world, NOTIFICATION, **changes), world.key))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == detail
    assert world.host.total_hits() == hits


async def test_alarm_state_change_time_out_of_range_is_400_not_500(
    world: SnsWorld, sns_client: httpx.AsyncClient
) -> None:
    alarm = json.loads(message(world, NOTIFICATION)["Message"])
    alarm["StateChangeTime"] = "9999-12-31T23:59:59.000-2359"
    body = message(world, NOTIFICATION, Message=json.dumps(alarm))
    response = await post(sns_client, sign(body, world.key))
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Message (CloudWatch alarm): StateChangeTime: Value error")
