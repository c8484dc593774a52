"""Ingest follows the configuration files: after a key is changed in the files, the old key is refused and the new
one accepted from the next load on; a configuration that does not load completely leaves the integrations in force
and is not tried again until the files change."""

from __future__ import annotations

from pathlib import Path

import httpx

from alertrouter_ingest.app import create_app
from alertrouter_ingest.config_reload import IntegrationsConfig
from alertrouter_ingest.publisher import Publisher
from tests.ingest.conftest import CONFIG, fixture_bytes, ingest_settings, serve

FIRING = fixture_bytes("alertmanager/firing-single.json")


def _changed(config: IntegrationsConfig) -> bool:
    """Two looks at the files, as two polls of the watch would (a change is loaded once it has settled)."""
    config.look_for_change()
    before = config.source_version
    config.look_for_change()
    return config.source_version != before


async def _status(client: httpx.AsyncClient, key: str) -> int:
    return (await client.post(f"/v1/alertmanager/{key}", content=FIRING)).status_code


async def test_integrations_follow_the_files_and_an_invalid_change_is_ignored(
    kafka_bootstrap: str, ingest_publisher: Publisher, tmp_path: Path
) -> None:
    config_file = tmp_path / "ownership.yaml"
    original = CONFIG.read_text(encoding="utf-8")
    config_file.write_text(original, encoding="utf-8")
    settings = ingest_settings(kafka_bootstrap, config_path=str(tmp_path), config_poll_seconds=0)
    app = create_app(settings, publisher=ingest_publisher)
    config: IntegrationsConfig = app.state.ingest.config
    async with serve(app) as client:
        first = (await client.get("/v1/config")).json()
        assert first["source_version"] == config.source_version and first["last_reload_rejected_at"] is None
        assert await _status(client, "test-am-key") == 202

        config_file.write_text(original.replace("key: test-am-key", "key: test-am-rotated-key"), encoding="utf-8")
        assert _changed(config)
        assert await _status(client, "test-am-key") == 404
        assert await _status(client, "test-am-rotated-key") == 202
        rotated = (await client.get("/v1/config")).json()
        assert rotated["source_version"] != first["source_version"] and rotated["integrations"] == first["integrations"]

        duplicate = original.replace("key: test-am-unbound-key", "key: test-am-key")
        config_file.write_text(duplicate, encoding="utf-8")
        assert not _changed(config)
        refused = (await client.get("/v1/config")).json()
        assert refused["source_version"] == rotated["source_version"]
        assert refused["last_reload_rejected_at"] is not None and refused["last_reload_errors"] == 1
        assert await _status(client, "test-am-rotated-key") == 202  # still the integrations in force
        config.look_for_change()
        assert (await client.get("/v1/config")).json()["last_reload_rejected_at"] == refused["last_reload_rejected_at"]
