"""The name AWS's SNS signing certificate carries, per region: the certificate must be named for it.

A certificate the CA issued to anyone else (any other site, or SNS of another region) must not sign SNS messages,
so the name is checked -- but AWS does not use one name everywhere. Regions open by default sign as
``sns.amazonaws.com``; opt-in regions as ``sns-signing.<region>.amazonaws.com``; GovCloud as
``sns-us-gov-west-1.amazonaws.com`` (both its regions); China as ``sns-<region>.amazonaws.com.cn``; the ISO
partitions as ``sns-<region>.c2s.ic.gov`` (aws-iso), ``sns-<region>.sc2s.sgov.gov`` (aws-iso-b) and
``sns-signing.<region>.<suffix>`` (aws-iso-e, aws-iso-f), the European Sovereign Cloud as
``sns-signing.<region>.amazonaws.eu``. The table is the one of the AWS SDK for Java v2
(``SnsHostProvider.signingCertCommonName``).

The region is the SigningCertURL host's (``sns.<region>.<suffix>``, already checked to be the topic's). On a host
the configured pattern allows that is not shaped like AWS's (a test or private endpoint) it is the topic's.
"""

from __future__ import annotations

from alertrouter_ingest.sns.partitions import region_partition
from alertrouter_ingest.sns.urls import certificate_host_region

STANDARD = "sns.amazonaws.com"
GOVCLOUD = "sns-us-gov-west-1.amazonaws.com"

# Regions open by default, which sign as sns.amazonaws.com.
_STANDARD_REGIONS = frozenset(
    {
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "ca-central-1",
        "sa-east-1",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eu-central-1",
        "eu-north-1",
        "ap-south-1",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-southeast-1",
        "ap-southeast-2",
    }
)
# Opt-in regions, each signing with a certificate of its own.
_OPT_IN_REGIONS = frozenset(
    {
        "af-south-1",
        "ap-east-1",
        "ap-east-2",
        "ap-south-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-6",
        "ap-southeast-7",
        "ca-west-1",
        "eu-central-2",
        "eu-south-1",
        "eu-south-2",
        "il-central-1",
        "me-central-1",
        "me-south-1",
        "mx-central-1",
    }
)


def signing_names(cert_url: str, topic_arn: str, override: str | None = None) -> tuple[str, ...]:
    """The names, any one of which the certificate at ``cert_url`` must carry; ``override`` alone when set."""
    if override:
        return (override,)
    region = certificate_host_region(cert_url, topic_arn)
    return region_signing_names(region) if region is not None else (STANDARD,)


def region_signing_names(region: str) -> tuple[str, ...]:
    """The signing name of ``region``; for a region newer than this table, the names its partition used so far."""
    partition = region_partition(region)
    if partition is None:
        return (STANDARD,)
    if partition.name == "aws-cn":
        china = f"sns-{region}.amazonaws.com.cn"
        return (china,) if region in ("cn-north-1", "cn-northwest-1") else (china, "sns.amazonaws.com.cn")
    if partition.name == "aws-us-gov":
        return (GOVCLOUD,)
    if partition.name in ("aws-iso", "aws-iso-b"):
        return (f"sns-{region}.{partition.dns_suffix}",)
    if partition.name != "aws":  # aws-iso-e, aws-iso-f, aws-eusc
        return (f"sns-signing.{region}.{partition.dns_suffix}",)
    if region in _OPT_IN_REGIONS:
        return (f"sns-signing.{region}.amazonaws.com",)
    if region in _STANDARD_REGIONS:
        return (STANDARD,)
    # Every region opened since 2019 is opt-in with its own name; the SDK guesses sns.amazonaws.com. Both are
    # names only AWS can hold, and the per-region one still names this region and no other.
    return (f"sns-signing.{region}.amazonaws.com", STANDARD)
