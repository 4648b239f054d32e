"""Latency histograms that merge exactly: the HdrHistogram layout, kept sparse.

Latencies are recorded in microseconds with HdrHistogram's bucketing (1 us to 1 h, 3 significant
digits): every value lands in a bucket no wider than 1/1000 of its value, and a percentile is the
highest value equivalent to the bucket it falls in, exactly as the ``hdrhistogram`` package computes
it. Merging is adding counts per bucket index, so any split of the same samples (workers, masters,
records that arrive late) merges to the same histogram and the same percentiles.

The representation was chosen on measurement (docs/scaling.md#measurement-at-peak-size): a decoded
HdrHistogram of this range is 23,552 counters (184 KB) however few samples it holds, and a second of
one endpoint holds at most a few hundred distinct buckets. So a :class:`Bucket` keeps only its
non-zero buckets (index -> count), and records are stored in the standard compressed HdrHistogram
encoding (any HdrHistogram library decodes them), decoded by :mod:`peakdrill.hdrcodec` straight
into the sparse form, many records at a time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

LOWEST_US = 1
HIGHEST_US = 3_600_000_000
SIGNIFICANT_DIGITS = 3
HISTOGRAM_DIR = "histograms"

# HdrHistogram's layout for (1, 3_600_000_000, 3): unit magnitude 0, 2048 sub-buckets, 22 buckets.
SUB_BUCKET_HALF_COUNT_MAGNITUDE = 10
SUB_BUCKET_HALF_COUNT = 1 << SUB_BUCKET_HALF_COUNT_MAGNITUDE
SUB_BUCKET_MASK = (2 * SUB_BUCKET_HALF_COUNT) - 1
BUCKET_COUNT = 22
COUNTS_LEN = (BUCKET_COUNT + 1) * SUB_BUCKET_HALF_COUNT


def index_of(micros: int) -> int:
    """Counts-array index of a value (HdrHistogram's ``counts_index_for``)."""
    bucket = (micros | SUB_BUCKET_MASK).bit_length() - (SUB_BUCKET_HALF_COUNT_MAGNITUDE + 1)
    sub_bucket = micros >> bucket
    return ((bucket + 1) << SUB_BUCKET_HALF_COUNT_MAGNITUDE) + sub_bucket - SUB_BUCKET_HALF_COUNT


def indices_of(micros: np.ndarray) -> np.ndarray:
    """:func:`index_of` for an array of whole microseconds (already clamped to 1 us..1 h)."""
    micros = np.asarray(micros, dtype=np.int64)
    bucket = np.floor(np.log2(micros | SUB_BUCKET_MASK)).astype(np.int64) + 1 - (SUB_BUCKET_HALF_COUNT_MAGNITUDE + 1)
    return ((bucket + 1) << SUB_BUCKET_HALF_COUNT_MAGNITUDE) + (micros >> bucket) - SUB_BUCKET_HALF_COUNT


def _lowest_and_width(index):
    index = np.asarray(index, dtype=np.int64)
    bucket = (index >> SUB_BUCKET_HALF_COUNT_MAGNITUDE) - 1
    sub_bucket = (index & (SUB_BUCKET_HALF_COUNT - 1)) + SUB_BUCKET_HALF_COUNT
    low = bucket < 0
    sub_bucket = np.where(low, sub_bucket - SUB_BUCKET_HALF_COUNT, sub_bucket)
    bucket = np.where(low, 0, bucket)
    return sub_bucket << bucket, np.int64(1) << bucket


def highest_equivalent(index):
    """The highest value (us) that lands in each bucket index: what HdrHistogram reports for it."""
    lowest, width = _lowest_and_width(index)
    return lowest + width - 1


def target_count(percentile: float, total: int) -> int:
    """The rank of a percentile, rounded exactly as HdrHistogram rounds it."""
    return max(int(min(percentile, 100.0) * total / 100 + 0.5), 1)


def percentiles_us(index: np.ndarray, counts: np.ndarray, percentiles: Iterable[float]) -> list[int]:
    """Values (us) at ``percentiles`` of a sparse histogram whose ``index`` is sorted and unique."""
    cumulative = np.cumsum(counts)
    total = int(cumulative[-1]) if len(cumulative) else 0
    if total == 0:
        return [0 for _ in percentiles]
    percentiles = list(percentiles)
    ranks = np.array([target_count(p, total) for p in percentiles], dtype=np.int64)
    positions = np.searchsorted(cumulative, ranks, side="left")
    lowest, width = _lowest_and_width(index[positions])
    # HdrHistogram answers percentile 0 with the lowest equivalent value, any other with the highest.
    return [int(lo) if p == 0 else int(lo + w - 1) for p, lo, w in zip(percentiles, lowest, width)]


@dataclass(slots=True)
class Bucket:
    """Requests of one endpoint over one second (or any merged span): latencies plus failures.

    ``counts`` maps a bucket index to its count; only non-zero buckets are kept.
    """

    counts: dict[int, int] = field(default_factory=dict)
    failures: int = 0

    @property
    def count(self) -> int:
        return sum(self.counts.values())

    def record(self, latency_ms: float, failed: bool) -> None:
        # Clamp so a pathological latency is still counted instead of raising.
        micros = min(max(int(round(latency_ms * 1000)), LOWEST_US), HIGHEST_US)
        index = index_of(micros)
        self.counts[index] = self.counts.get(index, 0) + 1
        if failed:
            self.failures += 1

    def add_counts(self, index: Iterable[int], counts: Iterable[int]) -> None:
        mine = self.counts
        for i, c in zip(index, counts):
            i, c = int(i), int(c)
            if c:
                mine[i] = mine.get(i, 0) + c

    def merge(self, other: Bucket) -> None:
        self.add_counts(other.counts.keys(), other.counts.values())
        self.failures += other.failures

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(sorted bucket indices, their counts)."""
        keys = sorted(self.counts)
        return np.array(keys, dtype=np.int64), np.array([self.counts[k] for k in keys], dtype=np.int64)

    def percentile_ms(self, percentile: float) -> float:
        if not self.counts:
            return 0.0
        return percentiles_us(*self.arrays(), [percentile])[0] / 1000.0

    def percentiles_ms(self, percentiles: Iterable[float]) -> list[float]:
        percentiles = list(percentiles)
        if not self.counts:
            return [0.0] * len(percentiles)
        return [v / 1000.0 for v in percentiles_us(*self.arrays(), percentiles)]

    def max_ms(self) -> float:
        return int(highest_equivalent(max(self.counts))) / 1000.0 if self.counts else 0.0


class DenseCounts:
    """An accumulating histogram for long merges (a window, a run): one counter per bucket index."""

    __slots__ = ("counts", "failures")

    def __init__(self) -> None:
        self.counts = np.zeros(COUNTS_LEN, dtype=np.int64)
        self.failures = 0

    def add(self, index: np.ndarray, counts: np.ndarray, failures: int = 0) -> None:
        np.add.at(self.counts, index, counts)
        self.failures += failures

    def bucket(self) -> Bucket:
        index = np.flatnonzero(self.counts)
        return Bucket(dict(zip(index.tolist(), self.counts[index].tolist())), self.failures)


class Recorder:
    """Collects requests into per-second buckets and hands out the seconds that are complete.

    Used inside a Locust process; ``drain`` is called periodically and returns one
    :class:`SecondRecord` per (second, endpoint) drained.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self._buckets: dict[tuple[int, str], Bucket] = {}

    def record(self, second: int, name: str, latency_ms: float, failed: bool) -> None:
        key = (second, name)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = Bucket()
        bucket.record(latency_ms, failed)

    def drain(self, before_second: int | None = None) -> list[dict]:
        """Remove and return the seconds earlier than ``before_second`` (all if None) as wire records:
        ``{"second", "name", "failures", "index": [...], "counts": [...]}`` (sparse, exact)."""
        done = sorted(k for k in self._buckets if before_second is None or k[0] < before_second)
        return [wire_record(second, name, self._buckets.pop((second, name))) for second, name in done]


def wire_record(second: int, name: str, bucket: Bucket) -> dict:
    """The sparse form a worker ships to its master inside a Locust report."""
    keys = sorted(bucket.counts)
    return {"second": second, "name": name, "failures": bucket.failures,
            "index": keys, "counts": [bucket.counts[k] for k in keys]}


def merge_buckets(buckets: Iterable[Bucket]) -> Bucket:
    total = Bucket()
    for bucket in buckets:
        total.merge(bucket)
    return total
