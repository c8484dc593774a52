"""Loading integrations from the ownership configuration, and constant-time key lookup."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from alertrouter_ingest.integrations import ConfigError, load_registry
from alertrouter_shared.integrations import IntegrationType
from tests.ingest.conftest import CONFIG

EV2 = IntegrationType.EVENTS_V2
AM = IntegrationType.ALERTMANAGER


def test_the_test_configuration_loads_and_ignores_other_sections() -> None:
    registry = load_registry(str(CONFIG))
    assert len(registry) == 10  # the two disabled integrations need no secret and are not registered
    found = registry.lookup("test-am-key", AM)
    assert found is not None and found.id == "test-am" and found.service == "checkout"


def test_lookup_refuses_unknown_disabled_and_other_type_keys() -> None:
    registry = load_registry(str(CONFIG))
    assert registry.lookup("nope", AM) is None
    assert registry.lookup("test-am-disabled-key", AM) is None
    assert registry.lookup("test-am-key", EV2) is None
    assert registry.lookup("test-am-key ", AM) is None
    assert registry.lookup("0123456789abcdef0123456789abcdef", EV2) is not None


def test_no_configuration_means_no_integrations() -> None:
    assert len(load_registry(None)) == 0


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_keys_from_environment_and_files_relative_to_the_yaml(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "cw.key").write_text("from-a-file\n")
    write(
        tmp_path,
        "a.yaml",
        "integrations:\n"
        "  - {id: am, type: alertmanager, key_env: AM_KEY}\n"
        "  - {id: cw, type: cloudwatch, key_file: secrets/cw.key, allowed_topic_arns: [arn:aws:sns:x:1:t]}\n",
    )
    write(tmp_path, "b.yml", "teams: []\nintegrations:\n  - {id: ev, type: events_v2, key_env: EV_KEY}\n")
    write(tmp_path, ".hidden.yaml", "integrations: [{id: x, type: bogus}]\n")
    registry = load_registry(str(tmp_path), {"AM_KEY": "from-env", "EV_KEY": "A" * 32})
    assert registry.lookup("from-env", AM) is not None
    cw = registry.lookup("from-a-file", IntegrationType.CLOUDWATCH)
    assert cw is not None and cw.allowed_topic_arns == frozenset({"arn:aws:sns:x:1:t"})
    assert registry.lookup("A" * 32, EV2) is not None


@pytest.mark.parametrize(
    ("yaml_text", "environ", "message"),
    [
        (
            "integrations:\n  - {id: a, type: alertmanager, key_env: MISSING}\n",
            {},
            "integrations[0].key_env: missing secret: environment variable 'MISSING' is not set",
        ),
        (
            "integrations:\n  - {id: a, type: alertmanager, key_file: nope.key}\n",
            {},
            "integrations[0].key_file: missing secret: cannot read",
        ),
        ("integrations:\n  - {id: a, type: alertmanager, key: inline}\n", {}, "inline 'key' is for development only"),
        ("integrations:\n  - {id: a, type: alertmanager}\n", {}, "exactly one of key_env, key_file or key"),
        ("integrations:\n  - {id: a, type: alertmanager, key_env: K, key_file: f}\n", {"K": "x"}, "exactly one of"),
        (
            "integrations:\n  - {id: a, type: pagerduty, key_env: K}\n",
            {"K": "x"},
            "integrations[0].type: Input should be",
        ),
        (
            "integrations:\n  - {id: a, type: events_v2, key_env: K}\n",
            {"K": "short"},
            "events_v2 integration keys are 32 letters or digits",
        ),
        (
            "integrations:\n  - {id: a, type: alertmanager, key_env: K, allowed_topic_arns: [x]}\n",
            {"K": "x"},
            "apply only to cloudwatch integrations",
        ),
        (
            "integrations:\n  - {id: a, type: alertmanager, key_env: K}\n  - {id: b, type: alertmanager, key_env: K}\n",
            {"K": "same"},
            "integration key already used by integration 'a'",
        ),
        (
            "integrations:\n  - {id: a, type: alertmanager, key_env: K}\n"
            "  - {id: a, type: cloudwatch, key_env: L, allow_any_topic: true}\n",
            {"K": "k", "L": "l"},
            "integration id 'a' is already defined",
        ),
        ("integrations: {a: 1}\n", {}, "integrations: must be a list"),
        ("- just a list\n", {}, "the top level must be a mapping"),
        ("integrations: [\n", {}, "cannot read YAML"),
    ],
)
def test_configuration_errors_name_file_path_and_reason(
    tmp_path: Path, yaml_text: str, environ: dict[str, str], message: str
) -> None:
    path = write(tmp_path, "ownership.yaml", yaml_text)
    with pytest.raises(ConfigError) as raised:
        load_registry(str(path), environ)
    assert str(path) in str(raised.value)
    assert message in str(raised.value)
    assert all(secret not in str(raised.value) for secret in environ.values() if len(secret) > 2)  # never echoed


def test_missing_configuration_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_registry(str(tmp_path / "absent.yaml"))


def test_cloudwatch_integrations_pin_their_topics_or_say_they_accept_any(tmp_path: Path) -> None:
    unpinned = write(
        tmp_path, "a.yaml", "integrations:\n  - {id: cw, type: cloudwatch, key: k, development_only: true}\n"
    )
    with pytest.raises(ConfigError, match="lists its SNS topics in allowed_topic_arns"):
        load_registry(str(unpinned))
    both = write(
        tmp_path,
        "b.yaml",
        "integrations:\n  - {id: cw, type: cloudwatch, key: k, development_only: true, allow_any_topic: true,"
        " allowed_topic_arns: [arn:aws:sns:eu-west-1:1:t]}\n",
    )
    with pytest.raises(ConfigError, match="contradict each other"):
        load_registry(str(both))


def test_config_validate_warns_about_an_integration_accepting_any_topic(tmp_path: Path) -> None:
    from alertrouter_router.ownership.cli_validate import validate_command

    integration = "  - {id: cw, type: cloudwatch, key: k, development_only: true, %s}\n"
    for option, warned in (("allow_any_topic: true", True), ("allowed_topic_arns: [arn:aws:sns:eu-west-1:1:t]", False)):
        config = write(tmp_path, "config.yaml", "integrations:\n" + integration % option)
        out = io.StringIO()
        validate_command(config, out=out)
        assert "is valid" in out.getvalue()
        assert ("warning: integration 'cw' accepts any SNS topic" in out.getvalue()) is warned


def test_the_secret_rules_are_the_routers(tmp_path: Path) -> None:
    """One resolver: a disabled integration needs no secret; an empty inline key is refused by both services."""
    from alertrouter_router.ownership.errors import ConfigError as RouterConfigError
    from alertrouter_router.ownership.loader import load_config

    disabled = write(
        tmp_path, "d.yaml", "integrations:\n  - {id: a, type: alertmanager, key_env: UNSET, enabled: false}\n"
    )
    assert len(load_registry(str(disabled), environ={})) == 0
    empty = write(
        tmp_path, "e.yaml", "integrations:\n  - {id: a, type: alertmanager, key: ' ', development_only: true}\n"
    )
    with pytest.raises(ConfigError, match="the inline key is empty"):
        load_registry(str(empty))
    with pytest.raises(RouterConfigError) as refused:
        load_config(empty, environ={})
    assert "the inline key is empty" in str(refused.value.issues)
