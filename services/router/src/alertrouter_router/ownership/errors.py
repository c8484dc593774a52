"""Configuration problems carry where they are (file, line, YAML path) so a reviewer can fix them at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

YamlPath = tuple[str | int, ...]


def render_path(path: YamlPath) -> str:
    """Render ``("schedules", 2, "layers", 0)`` as ``schedules[2].layers[0]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "<document>"


@dataclass(frozen=True)
class ConfigIssue:
    """One precise problem: ``file:line: path: message`` when rendered."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        location = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{location}: {self.path}: {self.message}"


class ConfigError(Exception):
    """Raised with every problem found, not just the first, so one edit-validate cycle fixes them all."""

    def __init__(self, issues: Sequence[ConfigIssue]) -> None:
        self.issues: list[ConfigIssue] = list(issues)
        summary = "\n".join(str(issue) for issue in self.issues)
        super().__init__(f"{len(self.issues)} configuration error(s):\n{summary}")
