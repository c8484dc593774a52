"""Render docs/settings.md from the services' settings classes, so the reference cannot drift from the code.

`uv run python scripts/settings_doc.py` rewrites the file; tests/test_settings_doc.py fails when it is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic import AliasChoices
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from alertrouter_ingest.settings import IngestSettings
from alertrouter_notifier.settings import NotifierSettings
from alertrouter_router.settings import RouterSettings
from alertrouter_shared.settings import CommonSettings

DOC = Path(__file__).resolve().parents[1] / "docs" / "settings.md"
SECTIONS: list[tuple[str, type[BaseSettings]]] = [
    ("Common to every service (unprefixed)", CommonSettings),
    ("ingest (`INGEST_`)", IngestSettings),
    ("router (`ROUTER_`)", RouterSettings),
    ("notifier (`NOTIFIER_`)", NotifierSettings),
]


def env_name(cls: type[BaseSettings], name: str, info: FieldInfo) -> str:
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    if isinstance(alias, str):
        return alias
    prefix = str(cls.model_config.get("env_prefix", ""))
    return (prefix + name).upper()


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "(required)"
    value = info.get_default(call_default_factory=True)
    text = (
        ""
        if value is None
        else str(value.get_secret_value() and "***" if hasattr(value, "get_secret_value") else value)
    )
    # a table cell ends at any unescaped pipe, even inside a code span (GFM): a pattern's alternatives are escaped
    return f"`{text.replace('|', chr(92) + '|')}`" if text else "(empty)"


def render() -> str:
    lines = [
        "# Settings reference",
        "",
        "Every service is configured through environment variables (pydantic-settings). This page is generated from",
        "the settings classes by `scripts/settings_doc.py`; a test fails when it is out of date.",
        "",
    ]
    common = set(CommonSettings.model_fields)
    for title, cls in SECTIONS:
        lines += [f"## {title}", "", "| variable | default | description |", "| --- | --- | --- |"]
        for name, info in cls.model_fields.items():
            if cls is not CommonSettings and name in common:
                continue
            description = (info.description or "").replace("|", "\\|")
            lines.append(f"| `{env_name(cls, name, info)}` | {_default(info)} | {description} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    DOC.write_text(render())
    sys.stdout.write(f"wrote {DOC}\n")
