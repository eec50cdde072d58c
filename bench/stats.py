"""Small statistics helpers (nearest-rank percentiles, in milliseconds where asked)."""

from __future__ import annotations

import math


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def ms_summary(seconds: list[float]) -> dict:
    """p50/p99/max/count of a list of durations in seconds, reported in ms."""
    if not seconds:
        return {"n": 0, "p50": None, "p99": None, "max": None, "min": None}
    p50, p99 = percentile(seconds, 50), percentile(seconds, 99)
    assert p50 is not None and p99 is not None  # seconds is not empty
    return {
        "n": len(seconds),
        "min": 1000 * min(seconds),
        "p50": 1000 * p50,
        "p99": 1000 * p99,
        "max": 1000 * max(seconds),
    }


def median(values: list[float]) -> float | None:
    return percentile(values, 50)
