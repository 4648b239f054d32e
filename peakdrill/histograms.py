"""Per-second, per-endpoint latency histograms that merge exactly.

Latencies are recorded in microseconds into HdrHistograms (3 significant digits, 1 us to 1 h).
A histogram is never summarised before it is stored: each record in ``histograms/*.jsonl`` holds
the encoded histogram of one endpoint, one wall-clock second and one source (a Locust worker).
Merging is adding counts, so any set of records (several workers, several masters) merges
exactly, and percentiles are read off the merged histogram, never averaged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hdrh.histogram import HdrHistogram

from peakdrill.errors import RunDirError

LOWEST_US = 1
HIGHEST_US = 3_600_000_000
SIGNIFICANT_DIGITS = 3
HISTOGRAM_DIR = "histograms"


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


@dataclass(slots=True)
class Bucket:
    """Requests of one endpoint in one second (or any merged span): latencies plus failures."""

    hist: HdrHistogram = field(default_factory=new_histogram)
    failures: int = 0

    @property
    def count(self) -> int:
        return self.hist.get_total_count()

    def record(self, latency_ms: float, failed: bool) -> None:
        # Clamp so a pathological latency is still counted instead of raising.
        micros = min(max(int(round(latency_ms * 1000)), LOWEST_US), HIGHEST_US)
        self.hist.record_value(micros)
        if failed:
            self.failures += 1

    def merge(self, other: Bucket) -> None:
        self.hist.add(other.hist)
        self.failures += other.failures

    def percentile_ms(self, percentile: float) -> float:
        if self.count == 0:
            return 0.0
        return self.hist.get_value_at_percentile(percentile) / 1000.0


class Recorder:
    """Collects requests into per-second buckets and hands out the seconds that are complete.

    Used inside a Locust process; ``drain`` is called periodically and returns JSON-ready records.
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
        """Remove and return the records of every second earlier than ``before_second`` (all if None)."""
        done = [k for k in self._buckets if before_second is None or k[0] < before_second]
        return [encode_record(second, name, self.source, self._buckets.pop((second, name))) for second, name in sorted(done)]


def encode_record(second: int, name: str, source: str, bucket: Bucket) -> dict:
    return {
        "second": second,
        "name": name,
        "source": source,
        "count": bucket.count,
        "failures": bucket.failures,
        "hist": bucket.hist.encode().decode("ascii"),
    }


def decode_record(record: dict) -> tuple[int, str, Bucket]:
    bucket = Bucket(hist=HdrHistogram.decode(record["hist"].encode("ascii")), failures=int(record["failures"]))
    if bucket.count != record["count"]:
        raise ValueError(f"histogram holds {bucket.count} samples but the record says count={record['count']}")
    return int(record["second"]), str(record["name"]), bucket


def iter_records(run_dir: Path) -> Iterator[dict]:
    """Every raw record of a run directory, from all of its histogram files (all workers, all masters).

    A torn last line (the writer was killed mid-write) is skipped: everything before it is kept.
    """
    files = sorted((run_dir / HISTOGRAM_DIR).glob("*.jsonl"))
    for path in files:
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                if number == len(lines):
                    continue
                raise RunDirError(f"{path}:{number}: not a JSON histogram record ({exc.msg})") from exc


def load_buckets(run_dir: Path) -> dict[tuple[int, str], Bucket]:
    """Merge every record of a run into one bucket per (second, endpoint name)."""
    merged: dict[tuple[int, str], Bucket] = {}
    for record in iter_records(run_dir):
        try:
            second, name, bucket = decode_record(record)
        except (KeyError, ValueError, TypeError) as exc:
            raise RunDirError(f"{run_dir / HISTOGRAM_DIR}: bad histogram record {str(record)[:80]!r}: {exc}") from exc
        key = (second, name)
        if key in merged:
            merged[key].merge(bucket)
        else:
            merged[key] = bucket
    return merged


def merge_buckets(buckets: Iterable[Bucket]) -> Bucket:
    total = Bucket()
    for bucket in buckets:
        total.merge(bucket)
    return total
