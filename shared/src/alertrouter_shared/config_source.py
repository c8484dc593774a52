"""The configuration's files as every process sees them: one fingerprint (the *source version*) and a watch on it.

Every router process and every ingest worker reads the same folder (a Kubernetes ConfigMap mount, a compose bind
mount) and polls its source version; a change is loaded by each process on its own, so a change reaches every
process without a restart and without any message between them (docs/operations.md, "Configuration changes").

The source version is a SHA-256 over each YAML file's name (relative to the folder, so pods mounting it at
different paths agree) and bytes, in name order. It is the same algorithm in every service, so ingest and the
router report comparable versions; the router's own ``version`` hashes the validated model instead, which only
it can build. Key files (``key_file``) are not part of it: a rotated key takes effect at the next reload.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from alertrouter_shared.integrations import config_files


def source_version(path: str | Path) -> str:
    """The fingerprint of the configuration's files; raises OSError when they cannot be read."""
    root = Path(path)
    digest = hashlib.sha256()
    for file in config_files(root):
        content = file.read_bytes()
        digest.update(f"{file.name}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()


@dataclass
class SourceWatch:
    """Decides when a change of the files is to be loaded: once the new source version has been read twice in a
    row (files copied one by one are loaded when the copying is over, not half-way), and never again a version
    already in force or already refused (an invalid configuration is reported once, not at every poll)."""

    settled: str  # the source version in force, or the last one refused
    pending: str | None = None

    def poll(self, path: str) -> str | None:
        """The source version of ``path`` to load now, or None; raises OSError when the files cannot be read."""
        seen = source_version(path)
        if seen == self.settled:
            self.pending = None
            return None
        if seen != self.pending:
            self.pending = seen
            return None
        return seen

    def settle(self, version: str) -> None:
        """``version`` was loaded or refused: stop proposing it."""
        self.settled = version
        self.pending = None
