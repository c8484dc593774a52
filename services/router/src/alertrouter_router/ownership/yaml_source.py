"""YAML reading that remembers where every value came from, so errors can name a line.

The loader resolves plain scalars as the YAML 1.2 core schema does, like editors and most other tools:
``12:30`` stays the string "12:30" instead of PyYAML's YAML 1.1 sexagesimal integer 750, which would
silently corrupt handoff times; ``no``, ``off`` and ``y`` stay strings instead of turning into booleans (a
label value ``no`` becoming ``false``); only ``true``/``false`` are booleans. Timestamps stay strings too,
parsed by the models, so what the loader sees is what a JSON Schema validator in an editor sees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from alertrouter_router.ownership.errors import ConfigIssue, YamlPath, render_path

_INT_1_2 = re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$")
_FLOAT_1_2 = re.compile(
    r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_BOOL_1_2 = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_REPLACED = (_INT_TAG, _FLOAT_TAG, _BOOL_TAG, _TIMESTAMP_TAG)


class _MarkedLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core scalars; nodes keep their start marks for error lines."""


_MarkedLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _REPLACED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_MarkedLoader.add_implicit_resolver(_BOOL_TAG, _BOOL_1_2, list("tTfF"))
_MarkedLoader.add_implicit_resolver(_INT_TAG, _INT_1_2, list("-+0123456789"))
_MarkedLoader.add_implicit_resolver(_FLOAT_TAG, _FLOAT_1_2, list("-+0123456789."))


@dataclass
class SourceDocument:
    """One parsed file: its data and the line (1-based) of each YAML path inside it."""

    file: str
    data: Any
    lines: dict[YamlPath, int] = field(default_factory=dict)

    def line_of(self, path: YamlPath) -> int | None:
        """The line of ``path`` or of its nearest ancestor that exists in the file."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None

    def issue(self, path: YamlPath, message: str) -> ConfigIssue:
        return ConfigIssue(self.file, self.line_of(path), render_path(path), message)


def _record_marks(node: yaml.Node, path: YamlPath, lines: dict[YamlPath, int], duplicates: list[ConfigIssue]) -> None:
    """Record each path's line; a key repeated in one mapping is a ``duplicates`` issue (``display_name`` later).

    YAML keeps only the last of repeated keys, silently: a second ``services:`` section appended to a file dropped
    every service of the first, and a reload took that as the new configuration."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value != "<<":
                key, line = str(key_node.value), key_node.start_mark.line + 1
                child = (*path, key)
                if key in seen:
                    message = f"duplicate key {key!r} (first at line {seen[key]}): YAML would keep only this one"
                    duplicates.append(ConfigIssue("", line, render_path(child), message))
                    continue
                seen[key] = line
                _record_marks(value_node, child, lines, duplicates)
                lines[child] = line
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_marks(item, (*path, index), lines, duplicates)


def read_yaml(path: Path, display_name: str) -> SourceDocument:
    """Parse one file; a syntax error becomes a ``ConfigIssue`` raised inside ``ConfigError``."""
    from alertrouter_router.ownership.errors import ConfigError

    text = _text(path, display_name)
    loader = _MarkedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return SourceDocument(display_name, {})
        lines: dict[YamlPath, int] = {}
        duplicates: list[ConfigIssue] = []
        _record_marks(node, (), lines, duplicates)
        if duplicates:
            raise ConfigError([replace(issue, file=display_name) for issue in duplicates])
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = f"invalid YAML: {exc.problem or exc.context}"
        raise ConfigError([ConfigIssue(display_name, line, "<document>", reason)]) from exc
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigIssue(display_name, None, "<document>", f"invalid YAML: {exc}")]) from exc
    finally:
        loader.dispose()
    return SourceDocument(display_name, data, lines)


def _text(path: Path, display_name: str) -> str:
    """The file's text. A file that cannot be read or is not UTF-8 (a name saved as Latin-1) is a configuration
    error like any other: it raised out of the loader, which ended every router process watching the folder and
    kept them from starting again -- no routing at all -- instead of refusing the change and keeping the last one."""
    from alertrouter_router.ownership.errors import ConfigError

    try:
        data = path.read_bytes()
    except OSError as exc:
        reason = f"cannot read the file: {exc.strerror or exc}"
        raise ConfigError([ConfigIssue(display_name, None, "<document>", reason)]) from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        reason = f"not UTF-8: byte 0x{data[exc.start]:02x} cannot be decoded (save the file as UTF-8)"
        raise ConfigError([ConfigIssue(display_name, line, "<document>", reason)]) from exc
