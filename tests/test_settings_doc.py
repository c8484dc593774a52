"""docs/settings.md is generated from the settings classes: it must match them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_settings_reference_is_up_to_date() -> None:
    spec = importlib.util.spec_from_file_location("settings_doc", ROOT / "scripts" / "settings_doc.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    current = (ROOT / "docs" / "settings.md").read_text()
    assert current == module.render(), "docs/settings.md is stale: run `uv run python scripts/settings_doc.py`"
