"""The pure normalisers on every fixture, and the rules they share (no HTTP, no Kafka)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alertrouter_ingest.settings import SNS_HOST_PATTERN, InsufficientDataPolicy
from alertrouter_ingest.sns.envelope import parse_envelope
from alertrouter_ingest.sns.errors import SignatureRejected
from alertrouter_ingest.sns.urls import check_certificate_url, check_subscribe_url
from alertrouter_ingest.sources.alertmanager import normalise_webhook, parse_webhook
from alertrouter_ingest.sources.cloudwatch import Ignored, SnsContext, normalise_alarm, parse_alarm
from alertrouter_ingest.sources.errors import InvalidPayload
from alertrouter_ingest.sources.events_v2 import EventRejected, normalise_event, parse_event
from alertrouter_ingest.sources.fingerprint import label_fingerprint
from alertrouter_ingest.sources.limits import ContentLimits
from alertrouter_ingest.sources.normalise import build_event, clip, severity_from_word
from alertrouter_router.decisions import Outcome
from alertrouter_router.decisions.incidents import IncidentStatus
from alertrouter_shared.events import AlertAction, AlertEvent, Severity
from tests.ingest.conftest import FIXTURES, fixture_bytes, fixture_json
from tests.router.unit.decide_support import Store

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
LIMITS = ContentLimits()
AM_GOOD = sorted(p.name for p in (FIXTURES / "alertmanager").glob("*.json"))
AM_BAD = sorted(p.name for p in (FIXTURES / "bad").glob("alertmanager-*.json") if "oversized" not in p.name)
PD_BAD = sorted(p.name for p in (FIXTURES / "bad").glob("pagerduty-*.json"))


def am_events(raw: bytes, integration: str = "am1") -> list[AlertEvent]:
    return list(
        normalise_webhook(
            parse_webhook(raw), integration_id=integration, bound_service=None, received_at=NOW, limits=LIMITS
        )
    )


@pytest.mark.parametrize("name", AM_GOOD)
def test_alertmanager_every_good_fixture(name: str) -> None:
    payload = fixture_json(f"alertmanager/{name}")
    events = am_events(fixture_bytes(f"alertmanager/{name}"))
    assert len(events) == len(payload["alerts"])
    for event, alert in zip(events, payload["alerts"], strict=True):
        assert event.dedup_key == f"am:am1:{alert['fingerprint']}"
        assert event.action is (AlertAction.TRIGGER if alert["status"] == "firing" else AlertAction.RESOLVE)
        assert label_fingerprint(alert["labels"]) == alert["fingerprint"]
        zero_end = alert["endsAt"].startswith("0001-")
        assert (event.details["ends_at"] is None) is zero_end
        moment = "endsAt" if alert["status"] == "resolved" else "startsAt"
        assert event.occurred_at.isoformat()[:19] == alert[moment][:19]


@pytest.mark.parametrize("name", AM_BAD)
def test_alertmanager_every_bad_fixture_is_invalid(name: str) -> None:
    with pytest.raises(InvalidPayload) as raised:
        am_events(fixture_bytes(f"bad/{name}"))
    assert raised.value.status == 400
    assert raised.value.detail


def test_alertmanager_oversized_fixture_is_valid() -> None:
    (event,) = am_events(fixture_bytes("bad/alertmanager-oversized-label-and-annotation.json"))
    assert event.dedup_key == "am:am1:9454f7135e48ef93"


def test_fingerprint_of_the_empty_label_set_is_the_fnv_offset_basis() -> None:
    assert label_fingerprint({}) == "cbf29ce484222325"


def test_fingerprint_sorts_names_bytewise_and_handles_utf8() -> None:
    assert label_fingerprint({"b": "1", "a": "2"}) == label_fingerprint({"a": "2", "b": "1"})
    assert re.fullmatch(r"[0-9a-f]{16}", label_fingerprint({"zoné": "värde"}))


@pytest.mark.parametrize(
    ("word", "severity"),
    [
        ("critical", Severity.CRITICAL),
        ("Page", Severity.CRITICAL),
        ("major", Severity.ERROR),
        ("warning", Severity.WARNING),
        ("warn", Severity.WARNING),
        ("info", Severity.INFO),
        ("none", Severity.INFO),
        ("whatever", Severity.CRITICAL),
        (None, Severity.CRITICAL),
    ],
)
def test_severity_words(word: str | None, severity: Severity) -> None:
    assert severity_from_word(word) is severity


def test_summary_falls_back_to_alertname_and_instance_and_is_clipped() -> None:
    payload = fixture_json("alertmanager/firing-single.json")
    payload["commonAnnotations"] = {}
    payload["alerts"][0]["annotations"] = {}
    payload["alerts"][0]["labels"]["instance"] = "10.0.0.1:9100"
    (event,) = am_events(json.dumps(payload).encode())
    assert event.summary == "HighErrorRate on 10.0.0.1:9100"
    payload["alerts"][0]["annotations"] = {"summary": "x" * 5000}
    (long,) = am_events(json.dumps(payload).encode())
    assert len(long.summary) == 1024 and long.summary.endswith("…")
    assert clip("short") == "short"


def test_common_labels_are_overridden_by_the_alerts_own() -> None:
    payload = fixture_json("alertmanager/firing-single.json")
    payload["commonLabels"] = {"team": "common", "extra": "from-group"}
    (event,) = am_events(json.dumps(payload).encode())
    assert event.labels["team"] == "payments"
    assert event.labels["extra"] == "from-group"


def test_resolved_alert_with_zero_end_time_occurs_at_receive_time() -> None:
    payload = fixture_json("alertmanager/resolved.json")
    payload["alerts"][0]["endsAt"] = "0001-01-01T00:00:00Z"
    (event,) = am_events(json.dumps(payload).encode())
    assert event.occurred_at == NOW
    assert event.details["ends_at"] is None


# ---------------------------------------------------------------------------------------------- events v2


@pytest.mark.parametrize(
    "name", ["trigger.json", "acknowledge.json", "resolve.json", "trigger-minimal-no-dedup-key.json"]
)
def test_events_v2_every_good_fixture(name: str) -> None:
    request = parse_event(fixture_bytes(f"pagerduty/{name}"))
    event = normalise_event(
        request,
        dedup_key=request.dedup_key or "generated",
        integration_id="ev",
        bound_service="svc",
        received_at=NOW,
        limits=LIMITS,
    )
    assert event.action.value == fixture_json(f"pagerduty/{name}")["event_action"]
    assert event.dedup_key == f"ev2:ev:{request.dedup_key or 'generated'}"
    assert event.bound_service == "svc"


@pytest.mark.parametrize("name", PD_BAD)
def test_events_v2_every_bad_fixture_is_rejected(name: str) -> None:
    with pytest.raises(EventRejected) as raised:
        parse_event(fixture_bytes(f"bad/{name}"))
    assert raised.value.errors


def test_events_v2_custom_details_become_prefixed_labels_only_when_small_strings() -> None:
    event_json = fixture_json("pagerduty/trigger.json")
    event_json["payload"]["custom_details"] = {
        "service": "checkout",
        "big": "x" * 257,
        "number": 3,
        "nested": {"a": "b"},
        **{f"k{i:02}": "v" for i in range(40)},
    }
    request = parse_event(json.dumps(event_json).encode())
    event = normalise_event(
        request, dedup_key="d", integration_id="ev", bound_service=None, received_at=NOW, limits=LIMITS
    )
    custom = {k: v for k, v in event.labels.items() if k.startswith("custom_details.")}
    assert len(custom) == 32
    assert "custom_details.big" not in custom and "custom_details.number" not in custom
    assert event.details["payload"]["custom_details"]["number"] == 3


# ---------------------------------------------------------------------------------------------- cloudwatch


SNS = SnsContext("m", "arn:aws:sns:eu-west-1:111122223333:prod-alarms", None, "2025-06-03T09:15:32.545Z")


@pytest.mark.parametrize(
    ("name", "action", "kind"),
    [
        ("alarm-in-alarm.json", AlertAction.TRIGGER, "metric"),
        ("alarm-ok.json", AlertAction.RESOLVE, "metric"),
        ("alarm-metric-math.json", AlertAction.TRIGGER, "metric_math"),
        ("alarm-composite.json", AlertAction.TRIGGER, "composite"),
    ],
)
def test_cloudwatch_every_alarm_shape(name: str, action: AlertAction, kind: str) -> None:
    alarm = parse_alarm(fixture_bytes(f"cloudwatch/{name}").decode())
    assert not isinstance(alarm, Ignored)
    event = normalise_alarm(
        alarm,
        sns=SNS,
        integration_id="cw",
        bound_service=None,
        received_at=NOW,
        policy=InsufficientDataPolicy.IGNORE,
        limits=LIMITS,
    )
    assert not isinstance(event, Ignored)
    assert event.action is action
    assert event.labels["alarm_type"] == kind
    assert event.labels["aws_region"] == "eu-west-1"
    assert event.dedup_key == f"cw:cw:{fixture_json(f'cloudwatch/{name}')['AlarmArn']}"


@pytest.mark.parametrize(
    ("policy", "action"),
    [
        (InsufficientDataPolicy.IGNORE, None),
        (InsufficientDataPolicy.TRIGGER, AlertAction.TRIGGER),
        (InsufficientDataPolicy.RESOLVE, AlertAction.RESOLVE),
    ],
)
def test_cloudwatch_insufficient_data_policy(policy: InsufficientDataPolicy, action: AlertAction | None) -> None:
    alarm = parse_alarm(fixture_bytes("cloudwatch/alarm-insufficient-data.json").decode())
    assert not isinstance(alarm, Ignored)
    outcome = normalise_alarm(
        alarm, sns=SNS, integration_id="cw", bound_service=None, received_at=NOW, policy=policy, limits=LIMITS
    )
    assert (outcome.reason if isinstance(outcome, Ignored) else outcome.action) == (action or "insufficient_data")


@pytest.mark.parametrize("message", ["plain text", "[1,2]", '{"AlarmName": "x"}', "{}"])
def test_cloudwatch_non_alarm_messages_are_ignored(message: str) -> None:
    assert parse_alarm(message) == Ignored("not_cloudwatch")


def test_cloudwatch_console_links_follow_the_partition() -> None:
    alarm = fixture_json("cloudwatch/alarm-in-alarm.json")
    alarm["AlarmName"] = "a b"
    alarm["AlarmArn"] = "arn:aws-cn:cloudwatch:cn-north-1:111122223333:alarm:a b"
    parsed = parse_alarm(json.dumps(alarm))
    assert not isinstance(parsed, Ignored)
    event = normalise_alarm(
        parsed,
        sns=SNS,
        integration_id="cw",
        bound_service=None,
        received_at=NOW,
        policy=InsufficientDataPolicy.IGNORE,
        limits=LIMITS,
    )
    assert not isinstance(event, Ignored)
    assert event.links == ["https://console.amazonaws.cn/cloudwatch/home?region=cn-north-1#alarmsV2:alarm/a%20b"]
    assert event.labels["aws_region"] == "cn-north-1"


# ---------------------------------------------------------------------------------------------- sns


def test_string_to_sign_matches_the_documented_example() -> None:
    message = parse_envelope(fixture_bytes("cloudwatch/sns-alarm-notification.json"), "Notification")
    text = message.string_to_sign().decode()
    assert text.startswith("Message\n{")
    assert text.endswith(
        "MessageId\n9e1c2b7a-4f3d-5a8e-b1c6-0d2f3a4b5c6d\n"
        'Subject\nALARM: "prod-checkout-alb-5xx-high" in EU (Ireland)\n'
        "Timestamp\n2025-06-03T09:15:32.545Z\n"
        "TopicArn\narn:aws:sns:eu-west-1:111122223333:prod-alarms\n"
        "Type\nNotification\n"
    )


PATTERN = re.compile(SNS_HOST_PATTERN)
TOPIC = "arn:aws:sns:eu-west-1:111122223333:t"


@pytest.mark.parametrize(
    "url",
    [
        "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
        "https://SNS.EU-WEST-1.AMAZONAWS.COM/SimpleNotificationService-abc.pem",
    ],
)
def test_genuine_certificate_urls_pass(url: str) -> None:
    assert check_certificate_url(url, PATTERN, TOPIC if ".cn/" not in url else "arn:aws-cn:sns:cn-north-1:1:t") == url


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.eu-west-1.amazonaws.com/x.pem",
        "https://sns.eu-west-1.amazonaws.com.evil.example/x.pem",
        "https://s3.amazonaws.com/bucket/x.pem",
        "https://sns.eu-west-1.amazonaws.com/x.pem?a=b",
        "https://sns.eu-west-1.amazonaws.com/x.pem#frag",
        "https://sns.eu-west-1.amazonaws.com/x.crt",
        "https://user:pw@sns.eu-west-1.amazonaws.com/x.pem",
        "https://sns.us-east-1.amazonaws.com/x.pem",  # not the topic's region
        "https://sns.eu-west-1.amazonaws.com:99999/x.pem",
        "ftp://sns.eu-west-1.amazonaws.com/x.pem",
        "",
        "not a url",
    ],
)
def test_forged_certificate_urls_are_refused(url: str) -> None:
    with pytest.raises(SignatureRejected):
        check_certificate_url(url, PATTERN, TOPIC)


# Every partition's SNS host (botocore's partitions.json: sns.<region>.<dnsSuffix>), with a topic of that partition.
PARTITION_HOSTS = [
    ("sns.us-east-1.amazonaws.com", "arn:aws:sns:us-east-1:1:t"),
    ("sns.il-central-1.amazonaws.com", "arn:aws:sns:il-central-1:1:t"),
    ("sns.nz-north-1.amazonaws.com", "arn:aws:sns:nz-north-1:1:t"),  # a geography AWS may open after this release
    ("sns.us-gov-west-1.amazonaws.com", "arn:aws-us-gov:sns:us-gov-west-1:1:t"),
    ("sns.cn-northwest-1.amazonaws.com.cn", "arn:aws-cn:sns:cn-northwest-1:1:t"),
    ("sns.us-iso-east-1.c2s.ic.gov", "arn:aws-iso:sns:us-iso-east-1:1:t"),
    ("sns.us-isob-east-1.sc2s.sgov.gov", "arn:aws-iso-b:sns:us-isob-east-1:1:t"),
    ("sns.eu-isoe-west-1.cloud.adc-e.uk", "arn:aws-iso-e:sns:eu-isoe-west-1:1:t"),
    ("sns.us-isof-south-1.csp.hci.ic.gov", "arn:aws-iso-f:sns:us-isof-south-1:1:t"),
    ("sns.eusc-de-east-1.amazonaws.eu", "arn:aws-eusc:sns:eusc-de-east-1:1:t"),
]


@pytest.mark.parametrize(("host", "topic"), PARTITION_HOSTS)
def test_every_partitions_sns_host_is_accepted(host: str, topic: str) -> None:
    url = f"https://{host}/SimpleNotificationService-abc.pem"
    assert check_certificate_url(url, PATTERN, topic) == url
    subscribe = f"https://{host}/?Action=ConfirmSubscription&TopicArn={topic}&Token=abc"
    assert check_subscribe_url(subscribe, PATTERN, topic) == subscribe


@pytest.mark.parametrize(
    ("host", "topic"),
    [
        # look-alikes: more labels after a genuine suffix, or a suffix that only resembles one
        ("sns.us-east-1.amazonaws.com.evil.com", "arn:aws:sns:us-east-1:1:t"),
        ("sns.us-iso-east-1.c2s.ic.gov.evil.com", "arn:aws-iso:sns:us-iso-east-1:1:t"),
        ("sns.eusc-de-east-1.amazonaws.eu.evil.com", "arn:aws-eusc:sns:eusc-de-east-1:1:t"),
        ("sns.us-east-1.amazonaws.com.", "arn:aws:sns:us-east-1:1:t"),
        ("sns.us-iso-east-1.evilc2s.ic.gov", "arn:aws-iso:sns:us-iso-east-1:1:t"),
        ("sns.us-iso-east-1.c2sxic.gov", "arn:aws-iso:sns:us-iso-east-1:1:t"),
        ("sns.us-isob-east-1.sc2s-sgov.gov", "arn:aws-iso-b:sns:us-isob-east-1:1:t"),
        ("sns.eu-isoe-west-1.cloud.adc-e.uk.example", "arn:aws-iso-e:sns:eu-isoe-west-1:1:t"),
        ("snsxus-east-1.amazonaws.com", "arn:aws:sns:us-east-1:1:t"),
        ("evil-sns.us-east-1.amazonaws.com", "arn:aws:sns:us-east-1:1:t"),
        ("sns.evil.us-east-1.amazonaws.com", "arn:aws:sns:us-east-1:1:t"),
        # a region under another partition's suffix: no SNS endpoint has such a name
        ("sns.us-east-1.c2s.ic.gov", "arn:aws:sns:us-east-1:1:t"),
        ("sns.us-iso-east-1.amazonaws.com", "arn:aws-iso:sns:us-iso-east-1:1:t"),
        ("sns.us-isob-east-1.c2s.ic.gov", "arn:aws-iso-b:sns:us-isob-east-1:1:t"),
        ("sns.cn-north-1.amazonaws.com", "arn:aws-cn:sns:cn-north-1:1:t"),
        ("sns.us-east-1.amazonaws.com.cn", "arn:aws:sns:us-east-1:1:t"),
        ("sns.eusc-de-east-1.amazonaws.com", "arn:aws-eusc:sns:eusc-de-east-1:1:t"),
        ("sns.us-east-1.amazonaws.eu", "arn:aws:sns:us-east-1:1:t"),
        # not a region at all (an S3 bucket named sns), in any partition
        ("sns.s3.amazonaws.com", "arn:aws:sns:us-east-1:1:t"),
        ("sns.s3.c2s.ic.gov", "arn:aws-iso:sns:us-iso-east-1:1:t"),
        # a genuine host, but the topic is of another partition or region
        ("sns.us-iso-east-1.c2s.ic.gov", "arn:aws:sns:us-iso-east-1:1:t"),
        ("sns.us-iso-east-1.c2s.ic.gov", "arn:aws-iso:sns:us-iso-west-1:1:t"),
        ("sns.eusc-de-east-1.amazonaws.eu", "arn:aws:sns:eu-central-1:1:t"),
    ],
)
def test_look_alike_and_cross_partition_sns_hosts_are_refused(host: str, topic: str) -> None:
    with pytest.raises(SignatureRejected):
        check_certificate_url(f"https://{host}/SimpleNotificationService-abc.pem", PATTERN, topic)
    with pytest.raises(SignatureRejected):
        check_subscribe_url(f"https://{host}/?Action=ConfirmSubscription&Token=abc", PATTERN, topic)


def test_subscribe_url_rules() -> None:
    good = "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&Token=abc"
    assert check_subscribe_url(good, PATTERN, TOPIC) == good
    for bad in ("http://sns.eu-west-1.amazonaws.com/?Action=x", "https://attacker.example/?Action=x"):
        with pytest.raises(SignatureRejected):
            check_subscribe_url(bad, PATTERN, TOPIC)


def test_fixture_directory_is_complete() -> None:
    assert {p.name for p in Path(FIXTURES / "bad").glob("*.json")} >= {*AM_BAD, *PD_BAD}


def test_an_unrepresentable_event_is_a_400_not_a_crash() -> None:
    with pytest.raises(InvalidPayload) as raised:
        build_event(
            source="alertmanager", integration_id="x", action="trigger", dedup_key="", occurred_at=NOW, received_at=NOW
        )
    assert raised.value.status == 400
    assert raised.value.detail.startswith("the alert cannot be represented as an event: dedup_key:")


def test_no_integration_can_write_another_integration_s_dedup_key() -> None:
    """Ids may contain ``:``: integration ``shop`` sending key ``prod:db-down`` made ``ev2:shop:prod:db-down``, the
    key of integration ``shop:prod``'s ``db-down``, and so resolved or acknowledged its incidents."""

    def ev2(integration: str, key: str) -> str:
        body = {"routing_key": "r" * 32, "event_action": "resolve", "dedup_key": key}
        request = parse_event(json.dumps(body).encode())
        return normalise_event(
            request, dedup_key=key, integration_id=integration, bound_service=None, received_at=NOW, limits=LIMITS
        ).dedup_key

    assert ev2("shop:prod", "db-down") != ev2("shop", "prod:db-down")
    assert ev2("shop", "db-down") == "ev2:shop:db-down"  # an id without ':' keeps its keys across the upgrade
    prod = am_events(fixture_bytes(f"alertmanager/{AM_GOOD[0]}"), "shop:prod")[0].dedup_key
    assert prod.startswith("am:shop%3Aprod:") and prod.count(":") == 2


def _cloudwatch(name: str, at: datetime) -> AlertEvent:
    document = fixture_json(f"cloudwatch/{name}") | {"StateChangeTime": at.strftime("%Y-%m-%dT%H:%M:%S.000+0000")}
    alarm = parse_alarm(json.dumps(document))
    assert not isinstance(alarm, Ignored)
    event = normalise_alarm(
        alarm,
        sns=SNS,
        integration_id="cw",
        bound_service="checkout",
        received_at=at,
        policy=InsufficientDataPolicy.IGNORE,
        limits=LIMITS,
    )
    assert not isinstance(event, Ignored)
    return event


def test_an_ok_from_before_the_current_alarm_leaves_it_firing() -> None:
    """ALARM, OK, ALARM, then the first OK again (an SNS retry, or a replay): it closed the second ALARM's
    incident, and CloudWatch never notifies again while the alarm lasts. Decided by the router's own core."""
    t1, t2, t3 = NOW, NOW + timedelta(minutes=10), NOW + timedelta(minutes=20)
    store = Store()
    store.run([_cloudwatch("alarm-in-alarm.json", t1)], t1)
    store.run([_cloudwatch("alarm-ok.json", t2)], t2)
    store.run([_cloudwatch("alarm-in-alarm.json", t3)], t3)
    second = store.decisions[-1].incident_id or ""
    assert store.decisions[-1].outcome is Outcome.PAGED
    store.run([_cloudwatch("alarm-ok.json", t2)], t3 + timedelta(minutes=1))
    assert store.incidents[second].status is IncidentStatus.TRIGGERED
    store.run([_cloudwatch("alarm-ok.json", t3 + timedelta(minutes=2))], t3 + timedelta(minutes=2))
    assert store.incidents[second].status is IncidentStatus.RESOLVED  # the OK of this episode still resolves it
