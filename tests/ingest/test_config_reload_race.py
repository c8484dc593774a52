"""A refused load of ingest's integrations never hides a change made while it ran (no Kafka, no app: the watch
and the loader on a real folder)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from pathlib import Path

from alertrouter_ingest.config_reload import IntegrationsConfig
from alertrouter_shared.config_source import source_version
from alertrouter_shared.integrations import IntegrationType
from tests.helpers import eventually
from tests.ingest.conftest import CONFIG

# Read before ownership.yaml (files load by name); its key comes from a FIFO, so the load waits there until the test
# writes the key: the test changes the files at a known point of the load.
WAITING = """\
integrations:
  - id: new-am
    type: alertmanager
    key_file: key.fifo
"""
FIXED = """\
integrations:
  - id: new-am
    type: alertmanager
    key: new-am-key
    development_only: true
"""


async def _writer_once_the_load_reads(fifo: Path) -> int:
    async def opened() -> int | None:
        with contextlib.suppress(OSError):
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # ENXIO until the load opened it for reading
        return None

    return await eventually(opened, what="the load to read the key file")


async def test_a_fix_written_while_a_refused_load_ran_is_loaded_by_the_watch(tmp_path: Path) -> None:
    """The refusal settled the watch on the folder as read after the load, i.e. on the fix: the new integration's
    key was refused (404) until the files changed once more, and its alerts were lost."""
    shutil.copy(CONFIG, tmp_path / "ownership.yaml")
    config = IntegrationsConfig.load(str(tmp_path))
    fifo = tmp_path / "key.fifo"
    os.mkfifo(fifo)
    (tmp_path / "0-new.yaml").write_text(WAITING, encoding="utf-8")
    load = asyncio.create_task(asyncio.to_thread(config.reload))
    writer = await _writer_once_the_load_reads(fifo)
    try:
        (tmp_path / "0-new.yaml").write_text(FIXED, encoding="utf-8")  # the fix lands mid-load
        os.write(writer, b"test-am-key\n")  # the refused files' key: already used by test-am
    finally:
        os.close(writer)
    assert await load is False
    assert config.registry.lookup("new-am-key", IntegrationType.ALERTMANAGER) is None
    config.look_for_change()  # seen once: loaded when seen again
    config.look_for_change()
    assert config.source_version == source_version(tmp_path)
    found = config.registry.lookup("new-am-key", IntegrationType.ALERTMANAGER)
    assert found is not None and found.id == "new-am"


async def test_a_second_integrations_section_in_a_file_is_refused_and_the_integrations_in_force_stay(
    tmp_path: Path,
) -> None:
    """YAML kept only the last ``integrations:`` section: every integration of the first was dropped, its key
    answered 404 and the senders' alerts were lost, while the router refused the same files."""
    config_file = tmp_path / "ownership.yaml"
    shutil.copy(CONFIG, config_file)
    config = IntegrationsConfig.load(str(tmp_path))
    config_file.write_text(config_file.read_text(encoding="utf-8") + "\n" + FIXED, encoding="utf-8")
    assert config.reload() is False
    assert config.rejected_at is not None
    found = config.registry.lookup("test-am-key", IntegrationType.ALERTMANAGER)
    assert found is not None and found.id == "test-am"
