"""Size and count limits on labels and annotations, checked before anything is produced."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from alertrouter_ingest.sources.errors import InvalidPayload


@dataclass(frozen=True)
class ContentLimits:
    max_alerts: int = 5000
    max_labels: int = 128
    max_annotations: int = 128
    max_name_chars: int = 1024
    max_label_value_chars: int = 128 * 1024
    max_annotation_value_chars: int = 128 * 1024

    def check_alert_count(self, count: int, where: str = "alerts") -> None:
        if count > self.max_alerts:
            raise InvalidPayload(
                f"{where}: {count} alerts in one request, over the limit of {self.max_alerts}",
                status=413,
                reason="too_many_alerts",
            )

    def check_labels(self, labels: Mapping[str, str], where: str) -> None:
        self._check(labels, where, self.max_labels, self.max_label_value_chars, "label")

    def _within(self, items: Mapping[str, str], max_count: int, max_value: int) -> bool:
        """The common case, checked with C-level loops; the slow path below names what is wrong."""
        if not items:
            return True
        names = list(map(len, items))
        return (
            len(names) <= max_count
            and min(names) > 0
            and max(names) <= self.max_name_chars
            and max(map(len, items.values())) <= max_value
        )

    def check_annotations(self, annotations: Mapping[str, str], where: str) -> None:
        self._check(annotations, where, self.max_annotations, self.max_annotation_value_chars, "annotation")

    def _check(self, items: Mapping[str, str], where: str, max_count: int, max_value: int, kind: str) -> None:
        if self._within(items, max_count, max_value):
            return
        if len(items) > max_count:
            raise InvalidPayload(
                f"{where}: {len(items)} {kind}s, over the limit of {max_count}", reason=f"too_many_{kind}s"
            )
        for name, value in items.items():
            if not name:
                raise InvalidPayload(f"{where}: a {kind} name is empty", reason=f"invalid_{kind}")
            if len(name) > self.max_name_chars:
                raise InvalidPayload(
                    f"{where}: a {kind} name is {len(name)} characters, over the limit of {self.max_name_chars}",
                    reason=f"{kind}_too_large",
                )
            if len(value) > max_value:
                raise InvalidPayload(
                    f"{where}.{name}: the {kind} value is {len(value)} characters, over the limit of {max_value}",
                    reason=f"{kind}_too_large",
                )
