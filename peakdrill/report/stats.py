"""Per-endpoint statistics and the per-second chart data, from the series pass 1 computed.

Percentiles are always read off merged histograms, never averaged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from peakdrill.report.rundata import CHARTED, RunData
from peakdrill.report.series import Series


@dataclass(frozen=True)
class EndpointStats:
    name: str
    count: int
    failures: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    def to_dict(self) -> dict:
        return {"name": self.name, "count": self.count, "failures": self.failures, "p50_ms": self.p50_ms,
                "p95_ms": self.p95_ms, "p99_ms": self.p99_ms, "max_ms": self.max_ms}


def endpoint_stats(data: RunData) -> list[EndpointStats]:
    result = []
    for name in sorted(data.endpoint_totals):
        bucket = data.endpoint_totals[name]
        if not bucket.count:
            continue
        p50, p95, p99 = bucket.percentiles_ms((50, 95, 99))
        result.append(EndpointStats(name=name, count=bucket.count, failures=bucket.failures, p50_ms=_r(p50),
                                    p95_ms=_r(p95), p99_ms=_r(p99), max_ms=_r(bucket.max_ms())))
    return result


def _r(value: float) -> float:
    return round(value, 3)


def chart_series(data: RunData) -> dict:
    """Per-second data for the charts: latency percentiles over the charted endpoints (all but
    pseudo-endpoints such as ``CS first response``, which spans seconds), cache p99, throughput."""
    everything: Series = data.series(CHARTED)
    cache: Series = data.series("cache_read")
    keys = ("t", "p50", "p95", "p99", "cache_p99", "rps", "fps")
    if not len(everything):
        return {key: [] for key in keys}
    first, last = int(everything.seconds[0]), int(everything.seconds[-1])
    seconds = np.arange(first, last + 1)
    series: dict[str, list] = {"t": [round(data.t(int(s)), 2) for s in seconds]}
    rows = np.searchsorted(everything.seconds, seconds)
    present = everything.seconds[np.minimum(rows, len(everything) - 1)] == seconds
    for key, pct in (("p50", 50.0), ("p95", 95.0), ("p99", 99.0)):
        values = everything.p(pct)
        series[key] = [_r(float(values[r])) if ok else None for r, ok in zip(rows.tolist(), present.tolist())]
    series["rps"] = [int(everything.count[r]) if ok else 0 for r, ok in zip(rows.tolist(), present.tolist())]
    series["fps"] = [int(everything.failures[r]) if ok else 0 for r, ok in zip(rows.tolist(), present.tolist())]
    cache_rows = np.searchsorted(cache.seconds, seconds)
    series["cache_p99"] = []
    for second, row in zip(seconds.tolist(), cache_rows.tolist()):
        ok = row < len(cache) and int(cache.seconds[row]) == second and cache.count[row] > 0
        series["cache_p99"].append(_r(float(cache.p(99.0)[row])) if ok else None)
    return {key: series[key] for key in keys}
