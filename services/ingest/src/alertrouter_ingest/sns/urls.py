"""Which URLs ingest may fetch on behalf of an SNS message: https only, genuine SNS hosts only.

Checked before any network access, so a forged message cannot make ingest fetch from an attacker's host
(look-alike hosts, S3 buckets on amazonaws.com, plain http, a query string after ``.pem``, control characters or
spaces that URL parsers silently drop).

An SNS host is ``sns.<region>.<DNS suffix of the region's partition>`` (sns/partitions.py: ``amazonaws.com``,
``amazonaws.com.cn`` in China, ``c2s.ic.gov`` and the other ISO partitions' suffixes, ``amazonaws.eu`` in the
European Sovereign Cloud); the middle label must be a region of the suffix's partition, and the topic's region in
the topic's partition, so ``sns.s3.amazonaws.com`` -- an S3 bucket named ``sns`` -- never passes, whatever region
the sender writes into its TopicArn.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from alertrouter_ingest.sns.errors import SignatureRejected
from alertrouter_ingest.sns.partitions import parse_sns_host, region_partition

_UNSAFE = re.compile(r"[\x00-\x20\x7f-\x9f\\]")
_TOPIC = re.compile(r"^arn:(aws[a-z-]*):sns:([a-z0-9-]+):")


def check_certificate_url(url: str, host_pattern: re.Pattern[str], topic_arn: str) -> str:
    """``url`` if it may serve an SNS signing certificate, else SignatureRejected (403)."""
    host = _check_https_url(url, host_pattern, "SigningCertURL")
    parts = urlsplit(url)
    if not parts.path.endswith(".pem") or parts.query or parts.fragment:
        raise SignatureRejected("SigningCertURL must be a path ending in .pem, with no query or fragment", "cert_url")
    _check_same_region(host, topic_arn, "SigningCertURL")
    return url


def check_subscribe_url(url: str, host_pattern: re.Pattern[str], topic_arn: str) -> str:
    """``url`` if confirming the subscription may fetch it, else SignatureRejected (403)."""
    host = _check_https_url(url, host_pattern, "SubscribeURL")
    if urlsplit(url).fragment:
        raise SignatureRejected("SubscribeURL must not have a fragment", "subscribe_url")
    _check_same_region(host, topic_arn, "SubscribeURL")
    return url


def certificate_host_region(url: str, topic_arn: str) -> str | None:
    """The region of an (already checked) SigningCertURL: its ``sns.<region>.<suffix>`` host's, or, on a host not
    shaped like AWS's that the configured pattern allows (a test or private endpoint), the topic's."""
    sns_host = parse_sns_host(urlsplit(url).hostname or "")
    if sns_host is not None:
        return sns_host.label
    topic_match = _TOPIC.match(topic_arn)
    return topic_match.group(2) if topic_match is not None else None


def _check_https_url(url: str, host_pattern: re.Pattern[str], field: str) -> str:
    reason = "cert_url" if field == "SigningCertURL" else "subscribe_url"
    if _UNSAFE.search(url) or not url.isascii():
        raise SignatureRejected(f"{field} contains spaces, control or non-ASCII characters", reason)
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 -- raises ValueError on a malformed port
    except ValueError as exc:
        raise SignatureRejected(f"{field} is not a valid URL", reason) from exc
    if parts.scheme != "https":
        raise SignatureRejected(f"{field} must use https", reason)
    if parts.username is not None or parts.password is not None:
        raise SignatureRejected(f"{field} must not carry credentials", reason)
    if not host_pattern.fullmatch(host):
        raise SignatureRejected(f"{field} host {host[:100]!r} is not an Amazon SNS host", reason)
    return host


def _check_same_region(host: str, topic_arn: str, field: str) -> None:
    """On AWS-shaped hosts the middle label must be a region of the suffix's partition, and the topic's region in
    the topic's partition."""
    sns_host = parse_sns_host(host)
    if sns_host is None:
        return  # a host the configured pattern allows that is not shaped like AWS's (a test or private endpoint)
    partition = sns_host.partition
    if partition is None:
        named = "a region of its AWS partition" if region_partition(sns_host.label) else "an AWS region"
        raise SignatureRejected(f"{field} host {host[:100]!r} does not name {named}", "cert_url")
    topic_match = _TOPIC.match(topic_arn)
    if topic_match is None or (topic_match.group(1), topic_match.group(2)) != (partition.name, sns_host.label):
        raise SignatureRejected(
            f"{field} is in region {sns_host.label!r} of partition {partition.name!r}, the topic is not", "cert_url"
        )
