"""The SNS JSON envelope and its string to sign (AWS "Verifying the signatures of Amazon SNS messages").

SNS posts JSON with ``Content-Type: text/plain``; the body is parsed whatever the content type says. Only the
HTTP spelling of the URL fields (``SigningCertURL``, ``SubscribeURL``) is accepted. Raw message delivery (no
envelope, hence no signature) is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from alertrouter_ingest.sources.errors import InvalidPayload

NOTIFICATION = "Notification"
SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"
MESSAGE_TYPES = (NOTIFICATION, SUBSCRIPTION_CONFIRMATION, UNSUBSCRIBE_CONFIRMATION)
SIGNATURE_VERSIONS = ("1", "2")

_COMMON_FIELDS = ("Type", "MessageId", "TopicArn", "Message", "Timestamp", "SignatureVersion", "SigningCertURL")
_CONFIRMATION_FIELDS = ("Token", "SubscribeURL")
_SIGNED_NOTIFICATION = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_SIGNED_CONFIRMATION = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
_OPTIONAL_TEXT = ("Subject", "Signature", "UnsubscribeURL")


@dataclass(frozen=True)
class SnsMessage:
    fields: dict[str, str]

    @property
    def type(self) -> str:
        return self.fields["Type"]

    @property
    def message_id(self) -> str:
        return self.fields["MessageId"]

    @property
    def topic_arn(self) -> str:
        return self.fields["TopicArn"]

    @property
    def message(self) -> str:
        return self.fields["Message"]

    @property
    def timestamp(self) -> str:
        return self.fields["Timestamp"]

    @property
    def subject(self) -> str | None:
        return self.fields.get("Subject")

    @property
    def signature_version(self) -> str:
        return self.fields["SignatureVersion"]

    @property
    def signature(self) -> str | None:
        return self.fields.get("Signature")

    @property
    def signing_cert_url(self) -> str:
        return self.fields["SigningCertURL"]

    @property
    def subscribe_url(self) -> str | None:
        return self.fields.get("SubscribeURL")

    def string_to_sign(self) -> bytes:
        """``name\\nvalue\\n`` for each signed field present, in AWS's (byte-sorted) order, UTF-8."""
        names = _SIGNED_NOTIFICATION if self.type == NOTIFICATION else _SIGNED_CONFIRMATION
        parts = [f"{name}\n{self.fields[name]}\n" for name in names if name in self.fields]
        return "".join(parts).encode("utf-8", "surrogatepass")


def parse_envelope(body: bytes, header_type: str | None) -> SnsMessage:
    """The envelope's fields; InvalidPayload (400) when it is not a well-formed SNS message."""
    if not body.strip():
        raise InvalidPayload("the body is empty; expected an SNS message", reason="empty_body")
    try:
        document: Any = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidPayload(f"the body is not valid JSON: {exc}", reason="invalid_payload") from exc
    if not isinstance(document, dict) or "Type" not in document:
        raise InvalidPayload(
            "the body is not an SNS message envelope (raw message delivery is not supported: it is unsigned)",
            reason="invalid_payload",
        )
    kind = document["Type"]
    if kind not in MESSAGE_TYPES:
        raise InvalidPayload(f"Type: unknown SNS message type {str(kind)[:64]!r}", reason="unknown_type")
    if header_type is None:
        raise InvalidPayload("the x-amz-sns-message-type header is missing", reason="invalid_payload")
    if header_type != kind:
        raise InvalidPayload(
            f"the x-amz-sns-message-type header ({header_type[:64]!r}) does not match the body's Type ({kind!r})",
            reason="type_mismatch",
        )
    required = _COMMON_FIELDS + (_CONFIRMATION_FIELDS if kind != NOTIFICATION else ())
    fields: dict[str, str] = {}
    for name in required:
        value = document.get(name)
        if not isinstance(value, str) or (name != "Message" and not value):
            problem = "is missing" if value is None else "must be a non-empty string"
            raise InvalidPayload(f"{name} {problem} in an SNS {kind}", reason="invalid_payload")
        fields[name] = value
    for name in _OPTIONAL_TEXT:
        value = document.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise InvalidPayload(f"{name} must be a string", reason="invalid_payload")
        fields[name] = value
    return SnsMessage(fields)
