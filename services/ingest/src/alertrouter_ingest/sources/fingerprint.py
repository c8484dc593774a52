"""Alertmanager's alert fingerprint, computed exactly as Prometheus does (``model.LabelSet.Fingerprint``).

FNV-1a 64 over the label names in byte order, each name and each value followed by the byte 0xFF, printed as
16 lower-case hex digits. Used only when a payload carries no fingerprint, so the dedup key of such an alert is
the one Alertmanager itself would have sent.
"""

from __future__ import annotations

from collections.abc import Mapping

_OFFSET64 = 14695981039346656037
_PRIME64 = 1099511628211
_MASK64 = (1 << 64) - 1
_SEPARATOR = 0xFF


def _add(state: int, data: bytes) -> int:
    for byte in data:
        state ^= byte
        state = (state * _PRIME64) & _MASK64
    return state


def label_fingerprint(labels: Mapping[str, str]) -> str:
    state = _OFFSET64
    separator = bytes([_SEPARATOR])
    for name in sorted(labels, key=lambda n: n.encode()):
        state = _add(state, name.encode())
        state = _add(state, separator)
        state = _add(state, labels[name].encode())
        state = _add(state, separator)
    return f"{state:016x}"
