"""Percentiles from the raw samples, sorted: an oracle that shares no code with peakdrill's histograms.

peakdrill records whole microseconds into HdrHistograms of 3 significant digits, which report a
percentile as the highest value of the recorded value's equivalence range: never below the
sample, above it by at most 1/1024 of it (2,048 sub-buckets per power of two). The sample a
percentile names is the nearest rank; HdrHistogram rounds ``p * n / 100`` to nearest where the
textbook rounds it up, so both ranks' samples bound the accepted range.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

EQUIVALENCE = 2 ** -10


def percentile_range_ms(samples_ms: Iterable[float], percentile: float) -> tuple[float, float]:
    values = sorted(samples_ms)
    count = len(values)
    ranks = (max(1, math.ceil(percentile * count / 100)), max(1, int(percentile * count / 100 + 0.5)))
    low_us, high_us = values[min(ranks) - 1] * 1000, values[max(ranks) - 1] * 1000
    return (math.floor(low_us) - 1) / 1000, (high_us * (1 + EQUIVALENCE) + 1) / 1000


def assert_percentile(got_ms: float, samples_ms: Iterable[float], percentile: float, what: str = "",
                      rounded_to_ms: float = 0.0) -> None:
    """``rounded_to_ms``: the figure was rounded for display (e.g. 0.01 for two decimals)."""
    low, high = percentile_range_ms(samples_ms, percentile)
    low, high = low - rounded_to_ms / 2, high + rounded_to_ms / 2
    assert low <= got_ms <= high, f"{what} p{percentile:g}: {got_ms} ms is outside [{low}, {high}] from the raw samples"
