"""The SNS world of the CloudWatch tests: a test CA, a signing certificate served by a local HTTPS host, and
helpers to build, sign and post SNS messages (the fixtures ``world`` and ``sns_client`` are in conftest.py)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import trustme
from cryptography.hazmat.primitives.asymmetric import rsa
from prometheus_client import REGISTRY

from alertrouter_ingest.settings import IngestSettings
from tests.ingest.conftest import CW_KEY, fixture_json, ingest_settings
from tests.ingest.sns_support import Authority, FakeSnsHost, pem, sign, write

PEM_PATH = "/SimpleNotificationService-0123456789abcdef.pem"
HEADERS = fixture_json("cloudwatch/sns-http-headers.json")
ALARM_ARN = "arn:aws:cloudwatch:eu-west-1:111122223333:alarm:prod-checkout-alb-5xx-high"


@dataclass
class SnsWorld:
    root: Authority
    key: rsa.RSAPrivateKey
    host: FakeSnsHost
    trust_bundle: str
    tls_bundle: str
    directory: Path

    @property
    def cert_url(self) -> str:
        return self.host.base + PEM_PATH

    def settings(self, kafka: str, **overrides: Any) -> IngestSettings:
        values: dict[str, Any] = {
            "sns_cert_host_pattern": r"^localhost$",
            "sns_ca_bundle": self.trust_bundle,
            "sns_tls_ca_bundle": self.tls_bundle,
        }
        values.update(overrides)
        return ingest_settings(kafka, **values)


def now_timestamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def message(world: SnsWorld, fixture: str, **changes: Any) -> dict[str, Any]:
    """A fixture envelope, pointing at the test certificate and stamped now (before signing)."""
    body: dict[str, Any] = fixture_json(fixture)
    body["SigningCertURL"] = world.cert_url
    body["Timestamp"] = now_timestamp()
    body.update(changes)
    return body


def wrap_alarm(world: SnsWorld, alarm_fixture: str, version: str = "1") -> dict[str, Any]:
    alarm = fixture_json(f"cloudwatch/{alarm_fixture}")
    body = message(world, "cloudwatch/sns-alarm-notification.json", Message=json.dumps(alarm, separators=(",", ":")))
    return sign(body, world.key, version)


async def post(
    client: httpx.AsyncClient, body: dict[str, Any] | bytes, kind: str | None = None, key: str = CW_KEY
) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    message_type = kind or (json.loads(content)["Type"] if content.strip().startswith(b"{") else "Notification")
    headers = {
        "x-amz-sns-message-type": message_type,
        "Content-Type": "text/plain; charset=UTF-8",
        "User-Agent": "Amazon Simple Notification Service Agent",
    }
    return await client.post(f"/v1/cloudwatch/{key}", content=content, headers=headers)


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def make_world(directory: Path) -> SnsWorld:
    """A fresh CA, signing certificate and running certificate host; the caller stops ``world.host``."""
    tls = trustme.CA()
    root = Authority.root()
    certificate, key = root.signing_certificate()
    host = FakeSnsHost(tls).start()
    host.files[PEM_PATH] = pem(certificate)
    tls_bundle = str(directory / "tls-ca.pem")
    tls.cert_pem.write_to_path(tls_bundle)
    trust = write(directory / "sns-root.pem", root.pem())
    return SnsWorld(root, key, host, trust, tls_bundle, directory)
