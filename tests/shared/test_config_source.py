"""The source version every process compares, and when the watch proposes a change of the files."""

from __future__ import annotations

import os
from pathlib import Path

from alertrouter_shared.config_source import SourceWatch, source_version


def test_the_source_version_follows_names_and_bytes_not_the_mount_path(tmp_path: Path) -> None:
    one, other = tmp_path / "one", tmp_path / "other"
    for folder in (one, other):
        folder.mkdir()
        (folder / "a.yaml").write_text("teams: []\n")
        (folder / "b.yml").write_text("users: []\n")
    (one / "notes.txt").write_text("not configuration")
    (one / ".hidden.yaml").write_text("ignored: true\n")
    assert source_version(one) == source_version(other)
    (other / "b.yml").rename(other / "c.yml")
    assert source_version(one) != source_version(other)
    single = source_version(one / "a.yaml")
    (one / "a.yaml").write_text("teams: [] \n")  # a space more
    assert source_version(one / "a.yaml") != single


def test_a_configmap_symlink_swap_is_one_change(tmp_path: Path) -> None:
    """Kubernetes mounts a ConfigMap as links through ``..data``, swapped at once to a new folder."""
    mount = tmp_path / "mount"
    mount.mkdir()
    first, second = mount / "..2026_12_04_first", mount / "..2026_12_04_second"
    for folder, text in ((first, "teams: []\n"), (second, "teams: [{id: a, name: A}]\n")):
        folder.mkdir()
        (folder / "teams.yaml").write_text(text)
    (mount / "..data").symlink_to(first.name)
    (mount / "teams.yaml").symlink_to("..data/teams.yaml")
    watch = SourceWatch(source_version(mount))
    assert watch.poll(str(mount)) is None
    link = mount / "..data_tmp"
    link.symlink_to(second.name)
    os.replace(link, mount / "..data")
    assert watch.poll(str(mount)) is None  # seen once: wait for it to settle
    changed = watch.poll(str(mount))
    assert changed == source_version(second)
    watch.settle(changed)
    assert watch.poll(str(mount)) is None


def test_a_half_copied_change_is_not_proposed_until_it_settles(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("teams: []\n")
    watch = SourceWatch(source_version(tmp_path))
    (tmp_path / "b.yaml").write_text("users: []\n")
    assert watch.poll(str(tmp_path)) is None
    (tmp_path / "c.yaml").write_text("services: []\n")  # still copying
    assert watch.poll(str(tmp_path)) is None
    refused = watch.poll(str(tmp_path))
    assert refused == source_version(tmp_path)
    watch.settle(refused)  # refused (or loaded): not proposed again
    assert watch.poll(str(tmp_path)) is None
