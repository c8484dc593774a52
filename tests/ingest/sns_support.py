"""Test-side SNS: a signing CA and certificates, a local HTTPS "SNS host", and message signing.

The string to sign is built here independently of ingest's code, straight from AWS's published rules, so the
tests check ingest against the specification rather than against itself.
"""

from __future__ import annotations

import base64
import datetime as dt
import ssl
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

SERVER_AUTH = ExtendedKeyUsageOID.SERVER_AUTH
CLIENT_AUTH = ExtendedKeyUsageOID.CLIENT_AUTH
NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Authority:
    """A CA certificate and its key."""

    certificate: x509.Certificate
    key: rsa.RSAPrivateKey

    @classmethod
    def root(cls, name: str = "Test SNS Root CA") -> Authority:
        key = _key()
        now = dt.datetime.now(dt.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_ca_key_usage(), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(certificate, key)

    def intermediate(
        self,
        name: str = "Test SNS Intermediate CA",
        extended_key_usage: Sequence[x509.ObjectIdentifier] = (SERVER_AUTH, CLIENT_AUTH),
    ) -> Authority:
        """An issuing CA as Amazon's ("Amazon RSA 2048 M01"): by default for server and client authentication;
        ``extended_key_usage=(SERVER_AUTH,)`` models the serverAuth-only hierarchies CAs are moving to."""
        key = _key()
        now = dt.datetime.now(dt.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=300))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_ca_key_usage(), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
            .add_extension(x509.ExtendedKeyUsage(list(extended_key_usage)), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return Authority(certificate, key)

    def signing_certificate(
        self,
        *,
        expired: bool = False,
        aia_url: str | None = None,
        common_name: str = "sns.amazonaws.com",
        extended_key_usage: Sequence[x509.ObjectIdentifier] = (SERVER_AUTH,),
    ) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
        """A signing certificate with the profile of AWS's real one (SimpleNotificationService-*.pem): a TLS
        server certificate named for the SNS host in its subject and SAN, serverAuth only, not a CA."""
        key = _key()
        now = dt.datetime.now(dt.UTC)
        start, end = (
            (now - dt.timedelta(days=30), now - dt.timedelta(days=1))
            if expired
            else (
                now - dt.timedelta(days=1),
                now + dt.timedelta(days=30),
            )
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_server_key_usage(), critical=True)
            .add_extension(x509.ExtendedKeyUsage(list(extended_key_usage)), critical=False)
        )
        if aia_url:
            builder = builder.add_extension(
                x509.AuthorityInformationAccess(
                    [
                        x509.AccessDescription(
                            AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(aia_url)
                        )
                    ]
                ),
                critical=False,
            )
        return builder.sign(self.key, hashes.SHA256()), key

    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _server_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=True,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def string_to_sign(message: dict[str, str]) -> bytes:
    names = NOTIFICATION_FIELDS if message["Type"] == "Notification" else CONFIRMATION_FIELDS
    return "".join(f"{n}\n{message[n]}\n" for n in names if n in message).encode()


def sign(message: dict[str, Any], key: rsa.RSAPrivateKey, version: str | None = None) -> dict[str, Any]:
    """``message`` with a real Signature by ``key`` (SHA1 for version "1", SHA256 for "2")."""
    signed = dict(message)
    if version is not None:
        signed["SignatureVersion"] = version
    algorithm = hashes.SHA1() if signed["SignatureVersion"] == "1" else hashes.SHA256()
    raw = key.sign(string_to_sign(signed), padding.PKCS1v15(), algorithm)
    signed["Signature"] = base64.b64encode(raw).decode()
    return signed


@dataclass
class FakeSnsHost:
    """A local HTTPS server standing in for sns.<region>.amazonaws.com: serves PEMs, records every GET."""

    tls: trustme.CA
    files: dict[str, bytes] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    status_override: dict[str, int] = field(default_factory=dict)
    gates: dict[str, threading.Event] = field(default_factory=dict)  # a GET of this path waits until the gate opens

    def start(self) -> FakeSnsHost:
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host.hits[self.path] += 1
                path = self.path.split("?", 1)[0]
                gate = host.gates.get(path)
                if gate is not None:
                    gate.wait(timeout=30)
                status = host.status_override.get(path)
                body = host.files.get(path)
                if status is None:
                    status = 200 if body is not None else 404
                self.send_response(status)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.issue_cert("localhost").configure_cert(context)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def base(self) -> str:
        return f"https://localhost:{self.server.server_address[1]}"

    def total_hits(self) -> int:
        return sum(self.hits.values())


def write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)
