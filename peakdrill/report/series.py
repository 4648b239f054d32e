"""Merging buckets over endpoints and seconds, per-second series and per-endpoint statistics.

Percentiles are always read off a merged histogram, never averaged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from peakdrill.histograms import Bucket, merge_buckets
from peakdrill.report.rundata import RunData


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


def per_second(data: RunData, names: Iterable[str] | None = None) -> dict[int, Bucket]:
    """One merged bucket per second over the given endpoint names (all endpoints if None)."""
    wanted = None if names is None else set(names)
    result: dict[int, Bucket] = {}
    for (second, name), bucket in data.buckets.items():
        if wanted is not None and name not in wanted:
            continue
        if second not in result:
            result[second] = Bucket()
        result[second].merge(bucket)
    return result


def merge_seconds(buckets: dict[int, Bucket], seconds: Iterable[int]) -> Bucket:
    return merge_buckets(buckets[s] for s in seconds if s in buckets)


def max_ms(bucket: Bucket) -> float:
    return bucket.hist.get_max_value() / 1000.0 if bucket.count else 0.0


def endpoint_stats(data: RunData) -> list[EndpointStats]:
    by_name: dict[str, Bucket] = {}
    for (_, name), bucket in data.buckets.items():
        if name not in by_name:
            by_name[name] = Bucket()
        by_name[name].merge(bucket)
    return [
        EndpointStats(name=name, count=b.count, failures=b.failures, p50_ms=_r(b.percentile_ms(50)),
                      p95_ms=_r(b.percentile_ms(95)), p99_ms=_r(b.percentile_ms(99)), max_ms=_r(max_ms(b)))
        for name, b in sorted(by_name.items())
    ]


def _r(value: float) -> float:
    return round(value, 3)


def chart_series(data: RunData, cache_names: Iterable[str], exclude: Iterable[str] = ()) -> dict:
    """Per-second data for the charts: latency percentiles over all endpoints, cache p99, throughput.

    ``exclude`` leaves out pseudo-endpoints (``CS first response`` spans seconds, not a request).
    """
    excluded = set(exclude)
    everything = per_second(data, [name for name in data.names if name not in excluded])
    cache = per_second(data, cache_names)
    if not everything:
        return {"t": [], "p50": [], "p95": [], "p99": [], "cache_p99": [], "rps": [], "fps": []}
    first, last = min(everything), max(everything)
    series: dict[str, list] = {"t": [], "p50": [], "p95": [], "p99": [], "cache_p99": [], "rps": [], "fps": []}
    for second in range(first, last + 1):
        bucket = everything.get(second)
        series["t"].append(round(data.t(second), 2))
        if bucket is None or bucket.count == 0:
            for key in ("p50", "p95", "p99"):
                series[key].append(None)
            series["rps"].append(0)
            series["fps"].append(0)
        else:
            for key, pct in (("p50", 50), ("p95", 95), ("p99", 99)):
                series[key].append(_r(bucket.percentile_ms(pct)))
            series["rps"].append(bucket.count)
            series["fps"].append(bucket.failures)
        cache_bucket = cache.get(second)
        series["cache_p99"].append(_r(cache_bucket.percentile_ms(99)) if cache_bucket and cache_bucket.count else None)
    return series
