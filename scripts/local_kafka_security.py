"""Secured listeners for the local Kafka broker: SSL (client certificate required), SASL_SSL and SASL_PLAINTEXT.

Why: the services' TLS and SASL settings are tested against the broker's own implementation, configured the way
an operator would (PEM key and trust stores, SCRAM credentials stored in the KRaft metadata log at format time,
PLAIN users in the listener's JAAS line). Standard library only, like local_kafka.py which uses it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

SCRAM_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclass(frozen=True)
class SecureListeners:
    """Ports and identities of the extra listeners; the PLAINTEXT listener stays for inter-broker traffic."""

    ssl_port: int
    sasl_ssl_port: int
    sasl_plaintext_port: int
    ca_file: Path  # PEM CA bundle: the broker trusts client certificates signed by it
    keystore_file: Path  # PEM: the broker's PKCS#8 private key followed by its certificate chain
    scram_users: dict[str, str] = field(default_factory=dict)  # name -> password, for both SCRAM mechanisms
    plain_users: dict[str, str] = field(default_factory=dict)  # name -> password, for SASL/PLAIN

    def listeners(self, host: str) -> list[str]:
        return [
            f"SSL://{host}:{self.ssl_port}",
            f"SASL_SSL://{host}:{self.sasl_ssl_port}",
            f"SASL_PLAINTEXT://{host}:{self.sasl_plaintext_port}",
        ]

    def ports(self) -> list[int]:
        return [self.ssl_port, self.sasl_ssl_port, self.sasl_plaintext_port]

    def server_properties(self) -> dict[str, object]:
        """Broker settings added to server.properties (the listeners themselves are added by the caller)."""
        settings: dict[str, object] = {
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": self.keystore_file,
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": self.ca_file,
            "listener.name.ssl.ssl.client.auth": "required",  # mutual TLS on the SSL listener
            "sasl.enabled.mechanisms": ",".join(("PLAIN", *SCRAM_MECHANISMS)),
        }
        for listener in ("sasl_ssl", "sasl_plaintext"):
            for mechanism in SCRAM_MECHANISMS:
                settings[f"listener.name.{listener}.{mechanism.lower()}.sasl.jaas.config"] = (
                    "org.apache.kafka.common.security.scram.ScramLoginModule required;"
                )
            users = " ".join(f'user_{name}="{password}"' for name, password in self.plain_users.items())
            settings[f"listener.name.{listener}.plain.sasl.jaas.config"] = (
                f"org.apache.kafka.common.security.plain.PlainLoginModule required {users};"
            )
        return settings

    def format_arguments(self) -> list[str]:
        """StorageTool arguments that store the SCRAM credentials in the new cluster's metadata log."""
        arguments: list[str] = []
        for name, password in self.scram_users.items():
            for mechanism in SCRAM_MECHANISMS:
                arguments += ["--add-scram", f"{mechanism}=[name={name},password={password}]"]
        return arguments
