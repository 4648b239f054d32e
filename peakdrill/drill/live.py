"""Live view of a running load test, read from the run directory's histogram files as they grow.

The progress line and the abort watcher both need "the last few seconds"; they read the same
files the report reads, so what the user watches live is what gets scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from peakdrill.histograms import HISTOGRAM_DIR, Bucket, merge_buckets
from peakdrill.rundir import JsonlTail
from peakdrill.rundir.histfiles import ANY_SECOND, buckets_of
from peakdrill.rundir.records import Where, parse_hist


@dataclass(slots=True, frozen=True)
class Window:
    seconds: int
    requests: int
    failures: int
    p95_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def error_ratio(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


class LiveStats:
    """Incrementally tails ``histograms/*.jsonl``: per (second, endpoint) buckets, as
    :func:`peakdrill.rundir.histfiles.load_buckets` gives them, and per-second buckets over all endpoints."""

    def __init__(self, run_dir: Path) -> None:
        self.hist_dir = run_dir / HISTOGRAM_DIR
        self._tails: dict[Path, JsonlTail] = {}
        self._seconds: dict[int, Bucket] = {}
        self.buckets: dict[tuple[int, str], Bucket] = {}

    def poll(self) -> list[tuple[int, str, Bucket]]:
        """Read what the histogram files gained; returns the new (second, endpoint, bucket) records."""
        new = []
        for path in sorted(self.hist_dir.glob("*.jsonl")):
            if path not in self._tails:
                self._tails[path] = JsonlTail(path)
            batch = [(parse_hist(raw, Where(path, number), ANY_SECOND), Where(path, number))
                     for number, raw in self._tails[path].read_numbered()]
            if not batch:
                continue
            for (record, _), bucket in zip(batch, buckets_of(batch)):
                self._seconds.setdefault(record.second, Bucket()).merge(bucket)
                self.buckets.setdefault((record.second, record.name), Bucket()).merge(bucket)
                new.append((record.second, record.name, bucket))
        return new

    @property
    def names(self) -> set[str]:
        return {name for _, name in self.buckets}

    def bucket(self, seconds: int, names: set[str] | None = None) -> Bucket | None:
        """The last ``seconds`` seconds that have data (workers report every few seconds), merged over
        ``names`` (every request if None)."""
        if not self._seconds:
            return None
        newest = max(self._seconds)
        first = newest - seconds + 1
        if names is None:
            return merge_buckets(self._seconds[s] for s in range(first, newest + 1) if s in self._seconds)
        return merge_buckets(b for (s, name), b in self.buckets.items() if s >= first and name in names)

    def window(self, seconds: int) -> Window | None:
        merged = self.bucket(seconds)
        if merged is None:
            return None
        return Window(seconds=seconds, requests=merged.count, failures=merged.failures, p95_ms=merged.percentile_ms(95))
