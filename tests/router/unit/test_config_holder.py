"""The configuration holder on a real folder, with no database: a refused load never hides a later change."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from alertrouter_router.config_state import NO_SERVICES, ConfigHolder
from alertrouter_router.ownership.errors import ConfigError
from alertrouter_shared.config_source import source_version
from tests.helpers import eventually
from tests.router.conftest import BILLING_SERVICE, CONFIG

# An integration whose key is read from a FIFO: the load waits there until the test writes the key, which lets the
# test change the files at a known point of the load (after the YAML was read, before the load ends).
WAITING_KEY = """\
integrations:
  - id: waiting-am
    type: alertmanager
    key_file: key.fifo
"""
BROKEN = BILLING_SERVICE.replace("escalation_policy: payments-default", "escalation_policy: nowhere")


async def _writer_once_the_load_reads(fifo: Path) -> int:
    """The FIFO opened for writing once the load has opened it for reading (ENXIO until then)."""

    async def opened() -> int | None:
        with contextlib.suppress(OSError):
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        return None

    return await eventually(opened, what="the load to read the key file")


async def test_a_fix_written_while_a_refused_load_ran_is_loaded_by_the_watch(tmp_path: Path) -> None:
    """The refusal settled the watch on the folder as read *after* the load: the fix, already there, counted as
    refused, so the watch never proposed it and the router served the old version until the files changed again
    (while ingest served the fix: AlertrouterConfigNotConverged, and the fixed routing never applied)."""
    folder = tmp_path / "config"
    folder.mkdir()
    shutil.copy(CONFIG, folder / "ownership.yaml")
    holder = ConfigHolder.load(str(folder))
    before = holder.current.version
    fifo = folder / "key.fifo"
    os.mkfifo(fifo)
    (folder / "waiting.yaml").write_text(WAITING_KEY, encoding="utf-8")
    (folder / "billing.yaml").write_text(BROKEN, encoding="utf-8")
    load = asyncio.create_task(asyncio.to_thread(holder.reload, "watch", "client:watch"))
    writer = await _writer_once_the_load_reads(fifo)
    try:
        (folder / "billing.yaml").write_text(BILLING_SERVICE, encoding="utf-8")  # the fix lands mid-load
        (folder / "waiting.yaml").unlink()
        os.write(writer, b"waiting-key\n")
    finally:
        os.close(writer)
    with pytest.raises(ConfigError, match="nowhere"):
        await load
    assert holder.current.version == before
    fixed = source_version(folder)
    assert holder.watch.poll(str(folder)) is None  # seen once: proposed when seen again
    assert holder.watch.poll(str(folder)) == fixed
    holder.reload("watch", "client:watch")
    assert "billing" in holder.current.services_by_id and holder.source_version == fixed


def test_a_file_that_is_not_utf8_is_refused_with_its_line_and_the_version_in_force_stays(tmp_path: Path) -> None:
    """A name saved as Latin-1 raised UnicodeDecodeError out of the loader: the watch task failed, which ends the
    router process (every process watching the folder), and a restarted one could not load the files at all."""
    folder = tmp_path / "config"
    folder.mkdir()
    shutil.copy(CONFIG, folder / "ownership.yaml")
    holder = ConfigHolder.load(str(folder))
    before = holder.current.version
    (folder / "zz-people.yaml").write_bytes("teams: []\n# Jos\u00e9 joins next week\n".encode("latin-1"))
    assert holder.watch.poll(str(folder)) is None
    assert holder.watch.poll(str(folder)) is not None
    holder.reload_logged("watch", "client:watch")
    assert holder.current.version == before
    assert holder.last_error == [
        f"{folder / 'zz-people.yaml'}:2: <document>: not UTF-8: byte 0xe9 cannot be decoded (save the file as UTF-8)"
    ]
    with pytest.raises(ConfigError, match="not UTF-8"):
        ConfigHolder.load(str(folder))  # a process starting now says why it cannot start


APPENDED_RULE = """\
route_rules:
  - id: checkout-api
    service: checkout
    match: [{label: component, op: "=", value: checkout-api}]
"""


def test_a_second_section_of_the_same_name_in_a_file_is_refused_not_taken_as_the_only_one(tmp_path: Path) -> None:
    """A route rule appended under a fresh ``route_rules:`` heading: YAML kept only the last section, so the reload
    took a configuration without every rule of the first one -- valid in every other respect -- and the alerts
    those rules routed became "no route"."""
    folder = tmp_path / "config"
    folder.mkdir()
    shutil.copy(CONFIG, folder / "ownership.yaml")
    holder = ConfigHolder.load(str(folder))
    before = holder.current
    text = (folder / "ownership.yaml").read_text(encoding="utf-8")
    (folder / "ownership.yaml").write_text(text + APPENDED_RULE, encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        holder.reload("api", "alice")
    first = 1 + text.splitlines().index("route_rules:")
    assert [str(issue) for issue in refused.value.issues] == [
        f"{folder / 'ownership.yaml'}:{len(text.splitlines()) + 1}: route_rules: duplicate key 'route_rules' "
        f"(first at line {first}): YAML would keep only this one"
    ]
    assert holder.current is before and len(holder.current.config.route_rules) > 1


def test_a_configuration_without_services_is_refused_and_the_last_good_one_stays(tmp_path: Path) -> None:
    """The files left with people and policies but no service (a ConfigMap rendered without its service file):
    valid in every other respect, so it was loaded, and every alert after it was decided "no route" -- recorded,
    and nobody paged."""
    folder = tmp_path / "config"
    folder.mkdir()
    shutil.copy(CONFIG, folder / "ownership.yaml")
    holder = ConfigHolder.load(str(folder))
    before = holder.current
    document = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    for section in ("services", "route_rules", "integrations"):  # what names a service goes with the services
        document.pop(section, None)
    (folder / "ownership.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        holder.reload("api", "alice")
    assert [str(issue) for issue in refused.value.issues] == [f"{folder}: services: {NO_SERVICES}"]
    assert holder.current is before
    assert holder.last_error == [f"{folder}: services: {NO_SERVICES}"]
    assert ConfigHolder.load(str(folder)).current.config.services == []  # a start runs (a fresh install)


def test_a_refusal_is_dated_in_utc_and_a_good_reload_clears_it(tmp_path: Path) -> None:
    """``GET /v1/config`` says when a newer configuration was last refused, as ingest's does: the time was kept in
    local time and never shown, so an operator reading ``last_reload_errors`` could not tell a refusal of a minute
    ago from one of last week's that a later edit had not yet replaced."""
    folder = tmp_path / "config"
    folder.mkdir()
    shutil.copy(CONFIG, folder / "ownership.yaml")
    holder = ConfigHolder.load(str(folder))
    assert holder.last_rejected_at is None
    (folder / "billing.yaml").write_text(BROKEN, encoding="utf-8")
    started = datetime.now(UTC)
    with pytest.raises(ConfigError, match="nowhere"):
        holder.reload("api", "alice")
    rejected_at = holder.last_rejected_at
    assert rejected_at is not None and rejected_at.utcoffset() == timedelta(0)
    assert started <= rejected_at <= datetime.now(UTC)
    (folder / "billing.yaml").write_text(BILLING_SERVICE, encoding="utf-8")
    holder.reload("api", "alice")
    assert holder.last_rejected_at is None and holder.last_error == []
