"""AWS's partitions, as SNS hosts name them: the only hosts a SigningCertURL or SubscribeURL may point at.

SNS's endpoint in a region is ``sns.<region>.<DNS suffix of the region's partition>`` (the AWS SDKs' endpoint
rule ``{service}.{region}.{dnsSuffix}``), and each partition has its own DNS suffix and its own region names. The
table is botocore's ``partitions.json``: the standard partition, China, GovCloud, the ISO partitions and the
European Sovereign Cloud. A host is an SNS host only when its suffix is a partition's *and* its middle label is a
region name of that same partition, so ``sns.us-east-1.c2s.ic.gov`` or ``sns.cn-north-1.amazonaws.com`` -- names
no SNS endpoint has -- never pass, nor does anything ending in more labels (``sns.us-east-1.amazonaws.com.evil.com``).
The standard partition takes any region name of its shape (``xx-name-N``), not only botocore's geographies: a
region AWS opens in a new geography must not have its alarms refused until this table learns of it, and every
``sns.<region>.amazonaws.com`` is a name only AWS can serve. The other partitions' regions have prefixes of their
own (``cn-``, ``us-gov-``, ``us-iso-``...), so they are matched first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Partition:
    name: str  # as in ARNs: arn:<name>:sns:<region>:...
    dns_suffix: str
    region_pattern: str  # the partition's region names (botocore's regionRegex, without its anchors)

    @property
    def regions(self) -> re.Pattern[str]:
        return re.compile(f"^{self.region_pattern}$")


_NUMBER = r"\d{1,2}"
PARTITIONS: tuple[Partition, ...] = (  # the standard partition last: its region shape also fits cn- names
    Partition("aws-us-gov", "amazonaws.com", rf"us-gov-[a-z]+-{_NUMBER}"),
    Partition("aws-cn", "amazonaws.com.cn", rf"cn-[a-z]+-{_NUMBER}"),
    Partition("aws-iso", "c2s.ic.gov", rf"us-iso-[a-z]+-{_NUMBER}"),
    Partition("aws-iso-b", "sc2s.sgov.gov", rf"us-isob-[a-z]+-{_NUMBER}"),
    Partition("aws-iso-e", "cloud.adc-e.uk", rf"eu-isoe-[a-z]+-{_NUMBER}"),
    Partition("aws-iso-f", "csp.hci.ic.gov", rf"us-isof-[a-z]+-{_NUMBER}"),
    Partition("aws-eusc", "amazonaws.eu", rf"eusc-de-[a-z]+-{_NUMBER}"),
    Partition("aws", "amazonaws.com", rf"[a-z]{{2}}-[a-z]+-{_NUMBER}"),
)


def sns_host_pattern() -> str:
    """The default INGEST_SNS_CERT_HOST_PATTERN: ``sns.<region>.<suffix>`` of every partition, each suffix with
    its own partition's regions only."""
    alternatives = "|".join(rf"{p.region_pattern}\.{_literal(p.dns_suffix)}" for p in PARTITIONS)
    return rf"^sns\.(?:{alternatives})$"


def _literal(dns_suffix: str) -> str:
    return dns_suffix.replace(".", r"\.")


def region_partition(region: str) -> Partition | None:
    """The partition whose region names include ``region``; None for a name no partition has."""
    for partition in PARTITIONS:
        if partition.regions.match(region):
            return partition
    return None


@dataclass(frozen=True)
class SnsHost:
    """A host shaped ``sns.<label>.<a partition's DNS suffix>``: AWS's shape, not yet a region of that partition."""

    label: str
    dns_suffix: str

    @property
    def partition(self) -> Partition | None:
        """The partition this host is SNS's endpoint of: the one whose regions include the label and whose suffix
        is the host's; None when there is none (``sns.us-east-1.c2s.ic.gov``, ``sns.s3.amazonaws.com``)."""
        owner = region_partition(self.label)
        return owner if owner is not None and owner.dns_suffix == self.dns_suffix else None


def parse_sns_host(host: str) -> SnsHost | None:
    """``host`` as an AWS-shaped SNS host, or None for a host of any other shape (a test or private endpoint)."""
    host = host.lower()
    if not host.startswith("sns."):
        return None
    for suffix in sorted({p.dns_suffix for p in PARTITIONS}, key=len, reverse=True):
        if host.endswith(f".{suffix}"):
            label = host[len("sns.") : -len(suffix) - 1]
            return SnsHost(label, suffix) if label and "." not in label else None
    return None
