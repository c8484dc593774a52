"""SNS signing certificates: a failed download is a 503 that SNS retries and is never cached; only a certificate
that really fails verification is a 403; the chain is checked as the TLS server certificate it is, named for
SNS of the message's region.

Every message is really signed (test CA in sns_support.py) and every certificate is served by the local HTTPS
certificate host, whose answers the tests change between deliveries.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from alertrouter_ingest.app import create_app
from alertrouter_ingest.publisher import Publisher
from alertrouter_ingest.sns.subjects import signing_names
from tests.ingest.conftest import CW_ANY_KEY, AlertsLog, serve
from tests.ingest.sns_support import CLIENT_AUTH, SERVER_AUTH, Authority, pem, sign
from tests.ingest.sns_world import ALARM_ARN, PEM_PATH, SnsWorld, message, post

NOTIFICATION = "cloudwatch/sns-alarm-notification.json"


def signed(world: SnsWorld, path: str, key: rsa.RSAPrivateKey, **changes: Any) -> dict[str, Any]:
    """A fresh notification (its own Timestamp) whose SigningCertURL is ``path`` on the certificate host."""
    return sign(message(world, NOTIFICATION, SigningCertURL=world.host.base + path, **changes), key)


def with_issuer_behind_aia(world: SnsWorld, name: str) -> tuple[str, str, rsa.RSAPrivateKey]:
    """A signing certificate served alone (path), whose issuer is only at its AIA URL (aia path) as DER."""
    intermediate = world.root.intermediate(f"Test SNS Intermediate {name}")
    aia_path = f"/issuer-{name}.der"
    world.host.files[aia_path] = intermediate.certificate.public_bytes(serialization.Encoding.DER)
    certificate, key = intermediate.signing_certificate(aia_url=world.host.base + aia_path)
    path = f"/SimpleNotificationService-{name}.pem"
    world.host.files[path] = pem(certificate)
    return path, aia_path, key


@pytest.mark.parametrize("status", [503, 429, 404, 403])
async def test_a_failed_issuer_download_is_503_and_is_not_cached(
    world: SnsWorld, kafka_bootstrap: str, ingest_publisher: Publisher, status: int
) -> None:
    """One bad answer from the AIA host once refused every message of that certificate for the cache's 24 h."""
    path, aia_path, key = with_issuer_behind_aia(world, f"flaky-aia-{status}")
    world.host.status_override[aia_path] = status
    settings = world.settings(kafka_bootstrap, sns_aia_host_pattern=r"^localhost$")
    async with serve(create_app(settings, publisher=ingest_publisher)) as client:
        refused = await post(client, signed(world, path, key))
        del world.host.status_override[aia_path]
        retried = await post(client, signed(world, path, key))
    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"] == "5"
    assert refused.json()["detail"].startswith("could not obtain the issuer certificate from https://localhost:")
    assert retried.status_code == 202, retried.text
    assert (world.host.hits[path], world.host.hits[aia_path]) == (2, 2)


async def test_an_issuer_download_that_is_not_a_certificate_is_503_and_is_not_cached(
    world: SnsWorld, kafka_bootstrap: str, ingest_publisher: Publisher
) -> None:
    path, aia_path, key = with_issuer_behind_aia(world, "garbled-aia")
    issuer = world.host.files[aia_path]
    world.host.files[aia_path] = b"<html>maintenance</html>"
    settings = world.settings(kafka_bootstrap, sns_aia_host_pattern=r"^localhost$")
    async with serve(create_app(settings, publisher=ingest_publisher)) as client:
        refused = await post(client, signed(world, path, key))
        world.host.files[aia_path] = issuer
        retried = await post(client, signed(world, path, key))
    assert refused.status_code == 503, refused.text
    assert retried.status_code == 202, retried.text


@pytest.mark.parametrize("status", [429, 404, 403, 500, 503])
async def test_a_certificate_host_error_is_503_and_the_retry_is_fetched_again(
    world: SnsWorld, kafka_bootstrap: str, ingest_publisher: Publisher, status: int
) -> None:
    """SNS retries 5xx only: the certificate host's 429 or 404 must not make us drop the alarm with a 403."""
    certificate, key = world.root.signing_certificate()
    path = f"/SimpleNotificationService-host-{status}.pem"
    world.host.files[path] = pem(certificate)
    world.host.status_override[path] = status
    async with serve(create_app(world.settings(kafka_bootstrap), publisher=ingest_publisher)) as client:
        refused = await post(client, signed(world, path, key))
        del world.host.status_override[path]
        retried = await post(client, signed(world, path, key))
    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"] == "5"
    assert refused.json()["detail"] == f"the signing certificate host answered {status}; retry later"
    assert retried.status_code == 202, retried.text
    assert world.host.hits[path] == 2


async def test_a_certificate_that_fails_verification_is_403_and_is_not_cached(
    world: SnsWorld, kafka_bootstrap: str, ingest_publisher: Publisher
) -> None:
    """A real verification failure is final for the message (403), but not remembered for the URL."""
    stranger = Authority.root("Not The SNS CA")
    untrusted, key = stranger.signing_certificate()
    path = "/SimpleNotificationService-replaced.pem"
    world.host.files[path] = pem(untrusted)
    async with serve(create_app(world.settings(kafka_bootstrap), publisher=ingest_publisher)) as client:
        refused = await post(client, signed(world, path, key))
        trusted, key = world.root.signing_certificate()
        world.host.files[path] = pem(trusted)
        accepted = await post(client, signed(world, path, key))
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith("the signing certificate is not trusted")
    assert accepted.status_code == 202, accepted.text
    assert world.host.hits[path] == 2


async def test_a_chain_of_server_authentication_certificates_verifies(
    world: SnsWorld, sns_client: httpx.AsyncClient, alerts_log: AlertsLog
) -> None:
    """Issuing CAs for TLS servers now carry serverAuth alone; a client-certificate check refused such chains."""
    intermediate = world.root.intermediate("Test SNS Intermediate serverAuth only", extended_key_usage=(SERVER_AUTH,))
    certificate, key = intermediate.signing_certificate()
    path = "/SimpleNotificationService-server-only-chain.pem"
    world.host.files[path] = pem(certificate) + intermediate.pem()
    response = await post(sns_client, signed(world, path, key))
    assert response.status_code == 202, response.text
    ((_, event),) = await alerts_log.events([response.json()["events"][0]["event_id"]])
    assert event["dedup_key"] == f"cw:test-cw:{ALARM_ARN}"


async def test_a_certificate_that_is_not_for_a_tls_server_is_refused(
    world: SnsWorld, sns_client: httpx.AsyncClient
) -> None:
    """Named sns.amazonaws.com and issued by the trusted CA, but for client authentication only: not SNS's."""
    certificate, key = world.root.signing_certificate(extended_key_usage=(CLIENT_AUTH,))
    path = "/SimpleNotificationService-client-only.pem"
    world.host.files[path] = pem(certificate)
    response = await post(sns_client, signed(world, path, key))
    assert response.status_code == 403
    assert response.json()["detail"].startswith("the signing certificate is not trusted")


# The signing names of AWS's own table (AWS SDK for Java v2, SnsHostProviderTest), by SigningCertURL host.
AWS_SIGNING_NAMES = [
    ("sns.us-east-1.amazonaws.com", "sns.amazonaws.com"),
    ("sns.eu-west-1.amazonaws.com", "sns.amazonaws.com"),
    ("sns.me-south-1.amazonaws.com", "sns-signing.me-south-1.amazonaws.com"),
    ("sns.ap-east-1.amazonaws.com", "sns-signing.ap-east-1.amazonaws.com"),
    ("sns.ap-southeast-7.amazonaws.com", "sns-signing.ap-southeast-7.amazonaws.com"),
    ("sns.mx-central-1.amazonaws.com", "sns-signing.mx-central-1.amazonaws.com"),
    ("sns.us-gov-west-1.amazonaws.com", "sns-us-gov-west-1.amazonaws.com"),
    ("sns.us-gov-east-1.amazonaws.com", "sns-us-gov-west-1.amazonaws.com"),
    ("sns.cn-north-1.amazonaws.com.cn", "sns-cn-north-1.amazonaws.com.cn"),
    ("sns.cn-northwest-1.amazonaws.com.cn", "sns-cn-northwest-1.amazonaws.com.cn"),
    ("sns.us-iso-east-1.c2s.ic.gov", "sns-us-iso-east-1.c2s.ic.gov"),
    ("sns.us-isob-east-1.sc2s.sgov.gov", "sns-us-isob-east-1.sc2s.sgov.gov"),
    ("sns.us-isof-east-1.csp.hci.ic.gov", "sns-signing.us-isof-east-1.csp.hci.ic.gov"),
    ("sns.us-isof-south-1.csp.hci.ic.gov", "sns-signing.us-isof-south-1.csp.hci.ic.gov"),
    ("sns.eu-isoe-west-1.cloud.adc-e.uk", "sns-signing.eu-isoe-west-1.cloud.adc-e.uk"),
    ("sns.eusc-de-east-1.amazonaws.eu", "sns-signing.eusc-de-east-1.amazonaws.eu"),
]


@pytest.mark.parametrize(("host", "name"), AWS_SIGNING_NAMES)
def test_the_signing_name_is_the_one_aws_uses_in_the_certificate_hosts_region(host: str, name: str) -> None:
    region = host.split(".")[1]
    url = f"https://{host}/SimpleNotificationService-0123.pem"
    assert signing_names(url, f"arn:aws:sns:{region}:111122223333:alarms") == (name,)
    assert signing_names(url, f"arn:aws:sns:{region}:111122223333:alarms", override="sns.example.internal") == (
        "sns.example.internal",
    )


def test_a_region_newer_than_the_table_accepts_only_names_of_that_region_or_of_sns_itself() -> None:
    url = "https://sns.ap-northeast-9.amazonaws.com/SimpleNotificationService-0123.pem"
    names = signing_names(url, "arn:aws:sns:ap-northeast-9:111122223333:alarms")
    assert names == ("sns-signing.ap-northeast-9.amazonaws.com", "sns.amazonaws.com")


@pytest.mark.parametrize(
    ("topic_region", "certificate_name", "status"),
    [
        ("me-south-1", "sns-signing.me-south-1.amazonaws.com", 202),
        ("us-gov-east-1", "sns-us-gov-west-1.amazonaws.com", 202),
        ("cn-north-1", "sns-cn-north-1.amazonaws.com.cn", 202),
        ("eu-west-1", "sns.amazonaws.com", 202),
        ("me-south-1", "sns.amazonaws.com", 403),  # an opt-in region never signs with the global name
        ("me-south-1", "sns-signing.ap-east-1.amazonaws.com", 403),  # SNS, but of another region
        ("cn-north-1", "sns-cn-northwest-1.amazonaws.com.cn", 403),
        ("eu-west-1", "sns-signing.eu-west-1.amazonaws.com", 403),
        ("eu-west-1", "sns.amazonaws.com.attacker.example", 403),
    ],
)
async def test_the_certificate_must_be_named_for_sns_of_the_messages_region(
    world: SnsWorld, sns_client: httpx.AsyncClient, topic_region: str, certificate_name: str, status: int
) -> None:
    """The local certificate host is not shaped like AWS's, so the region is the topic's (any topic allowed)."""
    partition = {"cn-north-1": "aws-cn", "us-gov-east-1": "aws-us-gov"}.get(topic_region, "aws")
    certificate, key = world.root.signing_certificate(common_name=certificate_name)
    path = f"/SimpleNotificationService-{certificate_name}.pem"
    world.host.files[path] = pem(certificate)
    topic = f"arn:{partition}:sns:{topic_region}:111122223333:alarms"
    response = await post(sns_client, signed(world, path, key, TopicArn=topic), key=CW_ANY_KEY)
    assert response.status_code == status, response.text
    if status == 403:
        assert response.json()["detail"].startswith(f"the signing certificate is issued to {certificate_name}, not to")


async def test_the_subject_setting_overrides_the_regions_name(
    world: SnsWorld, kafka_bootstrap: str, ingest_publisher: Publisher
) -> None:
    private, private_key = world.root.signing_certificate(common_name="sns.example.internal")
    world.host.files["/SimpleNotificationService-private.pem"] = pem(private)
    settings = world.settings(kafka_bootstrap, sns_certificate_subject="sns.example.internal")
    async with serve(create_app(settings, publisher=ingest_publisher)) as client:
        accepted = await post(client, signed(world, "/SimpleNotificationService-private.pem", private_key))
        regional = await post(client, signed(world, PEM_PATH, world.key))
    assert accepted.status_code == 202, accepted.text
    assert regional.status_code == 403
    assert regional.json()["detail"] == (
        "the signing certificate is issued to sns.amazonaws.com, not to sns.example.internal"
    )
