"""docker-compose.yml booted with podman-compose, and one alert from ingest to an e-mail captured by Mailpit.

The application images are the ones scripts/images.py builds (tagged as the compose file names them); Kafka,
PostgreSQL and Mailpit are local stand-ins for the official images (tests/deploy/standins.py), passed in through
the compose file's image variables. Prometheus and Alertmanager are not booted. The start-up order follows the
file's depends_on, gated as Compose gates it (tests/deploy/compose_boot.py says why podman-compose needs help).
Changed for the test, through an override file only: the published host ports (free ones, so a running `make dev`
or another run does not collide) and the mounted ownership configuration (a copy of the example in which each
user's e-mail is notified at once, since the example's immediate contact methods are webhooks to the host's
capture server, which a container cannot reach). What this proves and what it does not: docs/deployment.md,
"The compose stack in CI".
"""

from __future__ import annotations

import json
import shutil
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from alertrouter_router.ownership.loader import load_config
from tests.deploy.support import load_yaml
from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import images  # noqa: E402

from tests.deploy import compose_boot, standins  # noqa: E402

pytestmark = [pytest.mark.images, pytest.mark.timeout(900)]
CONFIG_MOUNT = "./examples/ownership:/etc/alertrouter/config:ro"
REPORT = ROOT / ".run" / "images" / "compose.json"


def email_first(source: Path, target: Path) -> dict[str, set[str]]:
    """A copy of the ownership configuration whose users are e-mailed at once; each team's members' addresses."""
    shutil.copytree(source, target)
    address: dict[str, str] = {}
    members: dict[str, list[str]] = {}
    for file in sorted(target.glob("*.yaml")):
        document = yaml.safe_load(file.read_text())
        members.update({team["id"]: team["members"] for team in document.get("teams", [])})
        for user in document.get("users", []):
            emails = [m for m in user["contact_methods"] if m["type"] == "email"]
            if emails:
                rules = [r for r in user["notification_rules"] if r["contact_method"] != emails[0]["id"]]
                user["notification_rules"] = [{"contact_method": emails[0]["id"], "delay_minutes": 0}, *rules]
                address[user["id"]] = emails[0]["address"]
        file.write_text(yaml.safe_dump(document, sort_keys=False))
    target.chmod(0o755)
    for file in target.iterdir():
        file.chmod(0o644)
    return {team: {address[u] for u in users if u in address} for team, users in members.items()}


def override_file(services: dict[str, dict[str, Any]], config: Path, path: Path) -> dict[str, int]:
    """Free host ports for every published port, and the test's configuration mount; the host port per service."""
    lines, ports = ["services:"], {}
    for name in sorted(services):
        entries = []
        published = services[name].get("ports", [])
        if published:
            ports[name] = free_port()
            mappings = [f"127.0.0.1:{ports[name]}:{published[0].rsplit(':', 1)[1]}"]
            entries.append(f"    ports: !override {json.dumps(mappings)}")
        if CONFIG_MOUNT in services[name].get("volumes", []):
            mounts = [f"{config}:/etc/alertrouter/config:ro"]
            entries.append(f"    volumes: !override {json.dumps(mounts)}")
        if entries:
            lines += [f"  {name}:", *entries]
    path.write_text("\n".join(lines) + "\n")
    return ports


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


@pytest.fixture
def project(
    built: images.BuildReport, tmp_path: Path
) -> Iterator[tuple[compose_boot.ComposeProject, dict[str, int], dict[str, set[str]]]]:
    try:
        started = time.monotonic()
        report = standins.build_all()
    except images.ImageError as error:
        pytest.fail(str(error), pytrace=False)
    seconds = {"standins": {**report.seconds, "total": round(time.monotonic() - started, 1)}}
    services = load_yaml(compose_boot.COMPOSE_FILE)["services"]
    for service in ("ingest", "router", "notifier"):
        images.podman("tag", images.TAG.format(service=service), f"localhost/alertrouter-{service}:dev")
    team_addresses = email_first(ROOT / "examples" / "ownership", tmp_path / "ownership")
    ports = override_file(services, tmp_path / "ownership", tmp_path / "override.yml")
    name = f"alertrouter-ct-{uuid.uuid4().hex[:6]}"
    stack = compose_boot.ComposeProject(name, tmp_path / "override.yml", report.environment)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(seconds, indent=1) + "\n")
    try:
        yield stack, ports, team_addresses
    finally:
        stack.down()


def wait_for_mail(mailpit: str, subject: str, stack: compose_boot.ComposeProject, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = [m for m in get_json(f"{mailpit}/api/v1/messages")["messages"] if subject in m["Subject"]]
        except (OSError, urllib.error.URLError):
            found = []
        if found:
            return found
        time.sleep(1)
    pytest.fail(f"no e-mail about {subject!r} at Mailpit after {timeout} s:\n{stack.logs()}", pytrace=False)


def test_the_compose_stack_boots_and_the_demo_alert_is_mailed(
    project: tuple[compose_boot.ComposeProject, dict[str, int], dict[str, set[str]]],
) -> None:
    """Every service of the file starts and turns healthy; Prometheus's always-firing demo alert goes through
    Alertmanager to ingest, the router pages the on-call user and the notifier's e-mail lands in Mailpit."""
    stack, ports, team_addresses = project
    services = load_yaml(compose_boot.COMPOSE_FILE)["services"]
    started = time.monotonic()
    try:
        timing = stack.boot(services, set(services))
    except (compose_boot.BootError, images.ImageError) as error:
        pytest.fail(str(error), pytrace=False)
    timing["boot"] = round(time.monotonic() - started, 1)

    rule = load_yaml(ROOT / "deploy" / "compose" / "prometheus-rules.yml")["groups"][0]["rules"][0]
    mailpit = f"http://127.0.0.1:{ports['mailpit']}"
    started = time.monotonic()
    mails = wait_for_mail(mailpit, rule["annotations"]["summary"], stack)
    timing["healthy to e-mail"] = round(time.monotonic() - started, 1)
    print(f"\ncompose stack: {json.dumps(timing)}")
    REPORT.write_text(json.dumps({**json.loads(REPORT.read_text()), "compose": timing}, indent=1) + "\n")

    assert len(mails) == 1, [m["Subject"] for m in mails]
    mail = mails[0]
    assert mail["From"]["Address"] == services["notifier"]["environment"]["NOTIFIER_SMTP_FROM"]
    recipients = {to["Address"] for to in mail["To"]}
    owner = load_config(ROOT / "examples" / "ownership", environ={}).config.services
    team = next(s.owner_team for s in owner if s.id == "checkout")
    assert len(recipients) == 1 and recipients <= team_addresses[team], (recipients, team)
    body = get_json(f"{mailpit}/api/v1/message/{mail['ID']}")["Text"]
    assert f"Label alertname: {rule['alert']}" in body and "Service: Checkout" in body, body
