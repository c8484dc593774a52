"""Webhook URLs are credentials: the ownership file references them (address_env, address_file) and the router
reads them at load time, so the pages it makes reach the right Slack and Teams webhooks without the URLs ever
being written into the configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from alertrouter_notifier.runtime import Notifier
from tests.notifier.conftest import SettingsFactory
from tests.notifier.live import ConfigRejected, LiveRouter, Person
from tests.notifier.support import api_client, final_delivery, produce_pages
from tests.providers.servers import SlackServer, TeamsServer


async def test_referenced_webhook_urls_are_resolved_and_delivered_to(
    make_settings: SettingsFactory,
    router_live: LiveRouter,
    slack: SlackServer,
    teams: TeamsServer,
    unique: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    teams_url = f"{teams.url}/workflows/{unique}/triggers/manual/paths/invoke?sig=secret-{unique}"
    slack_url = f"{slack.url}/services/T0001/B0001/{unique}"
    monkeypatch.setenv(f"TEAMS_HOOK_{unique.upper()}", teams_url)
    secret_file = tmp_path / "slack-hook"
    secret_file.write_text(slack_url + "\n")
    lena = Person(
        f"lena-{unique}",
        {},
        {"teams": {"address_env": f"TEAMS_HOOK_{unique.upper()}"}, "slack": {"address_file": str(secret_file)}},
    )
    service = await router_live.add_service(unique, [[lena]])
    try:
        await _deliver(make_settings, router_live, slack, teams, unique, service, teams_url, slack_url)
    finally:
        await router_live.remove_service(unique)  # its environment variable goes away with this test


async def _deliver(
    make_settings: SettingsFactory,
    router_live: LiveRouter,
    slack: SlackServer,
    teams: TeamsServer,
    unique: str,
    service: str,
    teams_url: str,
    slack_url: str,
) -> None:
    config_text = (router_live.config_dir / f"{unique}.yaml").read_text()
    assert teams_url not in config_text and slack_url not in config_text

    pages = await router_live.trigger(service, "payments webhook failures", count=2)
    assert {p.contact_method.type.value: p.contact_method.address for p in pages} == {
        "teams": teams_url,
        "slack": slack_url,
    }
    settings = make_settings(throttle_slack_max=0, throttle_teams_max=0)
    async with Notifier(settings) as notifier, api_client(notifier) as client:
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, pages)
        deliveries = [await final_delivery(client, page.page_id) for page in pages]
    assert [d["status"] for d in deliveries] == ["sent", "sent"]
    assert all(unique not in d["destination_masked"] for d in deliveries)  # the credential part is masked
    assert len(teams.cards) == 1 and [m["path"] for m in slack.messages] == [f"/services/T0001/B0001/{unique}"]


async def test_a_missing_secret_rejects_the_configuration_with_its_name(router_live: LiveRouter, unique: str) -> None:
    mona = Person(f"mona-{unique}", {}, {"teams": {"address_env": f"MISSING_{unique.upper()}"}})
    with pytest.raises(ConfigRejected) as rejected:
        await router_live.add_service(unique, [[mona]])
    errors = " ".join(rejected.value.problem["errors"])
    assert f"environment variable 'MISSING_{unique.upper()}' is not set" in errors
    both = Person(f"nina-{unique}", {}, {"teams": {"address": "https://x.example/hook", "address_file": "/nope"}})
    with pytest.raises(ConfigRejected) as ambiguous:
        await router_live.add_service(unique, [[both]])
    assert "exactly one of address, address_env or address_file" in " ".join(ambiguous.value.problem["errors"])
