"""Live view of a running load test, read from the run directory's histogram files as they grow.

The progress line and the abort watcher both need "the last few seconds"; they read the same
files the report reads, so what the user watches live is what gets scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from peakdrill.histograms import HISTOGRAM_DIR, Bucket, merge_buckets
from peakdrill.rundir import GENERATOR_FILE, JsonlTail
from peakdrill.rundir.histfiles import ANY_SECOND, buckets_of
from peakdrill.errors import PeakdrillError
from peakdrill.rundir.records import SATURATED_CPU_PERCENT, SATURATED_SECONDS, HealthReader, HealthSample, Where, parse_hist


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


@dataclass(slots=True, frozen=True)
class Generators:
    """The load processes that reported lately: how many, the busiest, and which are saturated."""

    workers: int  # load processes other than the masters (a local run's single process counts)
    busiest: str
    busiest_cpu: float
    saturated: tuple[str, ...]

    @property
    def text(self) -> str:
        hot = f" | SATURATED: {', '.join(self.saturated)}" if self.saturated else ""
        return f"{self.workers} worker(s), CPU max {self.busiest_cpu:.0f}% ({self.busiest}){hot}"


class LiveStats:
    """Incrementally tails ``histograms/*.jsonl``: per (second, endpoint) buckets, as
    :func:`peakdrill.rundir.histfiles.load_buckets` gives them, and per-second buckets over all endpoints."""

    def __init__(self, run_dir: Path) -> None:
        self.hist_dir = run_dir / HISTOGRAM_DIR
        self._tails: dict[Path, JsonlTail] = {}
        self._seconds: dict[int, Bucket] = {}
        self.buckets: dict[tuple[int, str], Bucket] = {}
        self._health_tail = JsonlTail(run_dir / GENERATOR_FILE)
        self._health = HealthReader()
        self._latest: dict[str, HealthSample] = {}  # per load process, its newest health sample
        self._hot: dict[str, int] = {}  # per load process, its consecutive seconds at saturated CPU

    def _poll_health(self) -> None:
        where = Where(self._health_tail.path, 0)
        for raw in self._health_tail.read_new():
            try:
                samples = self._health.samples(raw, where)
            except PeakdrillError:  # a torn or hostile line: the report names it; the watcher goes on
                continue
            for sample in samples:
                previous = self._latest.get(sample.source)
                if previous is not None and sample.ts < previous.ts:
                    continue
                hot = sample.cpu_percent is not None and sample.cpu_percent >= SATURATED_CPU_PERCENT
                follows = previous is not None and sample.ts - previous.ts <= 1.5
                self._hot[sample.source] = (self._hot.get(sample.source, 0) if follows else 0) + 1 if hot else 0
                self._latest[sample.source] = sample

    def health(self, seconds: float) -> dict[str, HealthSample]:
        """The newest health sample of each load process that reported within ``seconds`` of the newest."""
        if not self._latest:
            return {}
        newest = max(s.ts for s in self._latest.values())
        return {source: s for source, s in self._latest.items() if s.ts >= newest - seconds}

    def cpu_percent(self, source: str) -> float:
        return self._latest[source].cpu_percent or 0.0

    def generators(self, seconds: float) -> Generators | None:
        """Load processes that reported CPU within ``seconds`` of the newest report; None before any."""
        sampled = [s for s in self._latest.values() if s.cpu_percent is not None]
        if not sampled:
            return None
        newest = max(s.ts for s in sampled)
        recent = [s for s in sampled if s.ts >= newest - seconds]
        busiest = max(recent, key=lambda s: s.cpu_percent)
        workers = sum(1 for s in recent if not s.source.startswith("master-"))
        return Generators(workers=workers, busiest=busiest.source, busiest_cpu=busiest.cpu_percent,
                          saturated=tuple(sorted(s.source for s in recent if self._hot.get(s.source, 0) >= SATURATED_SECONDS)))

    def poll(self) -> list[tuple[int, str, Bucket]]:
        """Read what the histogram files gained; returns the new (second, endpoint, bucket) records."""
        new = []
        self._poll_health()
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
