"""Percentiles and latency summaries: pure functions, so the report's arithmetic is unit-tested.

Nearest-rank percentiles (the value at rank ceil(p/100 * n)): every reported figure is an observed sample,
never an interpolation between two samples.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from .results import LatencySummary


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted, non-empty sequence; p in (0, 100]."""
    if not sorted_values:
        raise ValueError("percentile of an empty sequence")
    if not 0 < p <= 100:
        raise ValueError(f"percentile must be in (0, 100], not {p}")
    rank = math.ceil(p / 100 * len(sorted_values))
    return sorted_values[max(rank, 1) - 1]


def summarise_ms(seconds: Iterable[float]) -> LatencySummary:
    """Latency samples in seconds to a summary in milliseconds; an empty input gives count 0 and no figures."""
    values = sorted(seconds)
    if not values:
        return LatencySummary(count=0)
    return LatencySummary(
        count=len(values),
        p50_ms=percentile(values, 50) * 1000,
        p95_ms=percentile(values, 95) * 1000,
        p99_ms=percentile(values, 99) * 1000,
        max_ms=values[-1] * 1000,
        mean_ms=sum(values) / len(values) * 1000,
    )


def rate_per_second(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


def per_thousand(amount: float, alerts: int) -> float | None:
    """Resource use per 1,000 alerts; None when no alert was handled (a ratio of nothing is not a number)."""
    return amount / alerts * 1000 if alerts > 0 else None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator
