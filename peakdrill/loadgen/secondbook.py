"""Where a master (or a stand-alone load process) merges what its load processes measured.

Workers ship sparse per-second histograms and health samples inside their Locust reports (every
3 s). :class:`SecondBook` adds them, exactly, into one bucket per (second, endpoint) and one health
row per (second, load process), and writes a second out once the master's clock has passed its end
by :data:`HOLD_OPEN_S`: one histogram record per endpoint and one ``generator.jsonl`` line, however
many workers there are. A record that arrives for a second already written (a worker delayed by
more than the hold) is written at once as a ``late`` record; readers add it to its second, so
nothing is lost or misplaced (docs/run-directory.md#late-records).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from peakdrill.histograms import Bucket
from peakdrill.rundir import GENERATOR_FILE, HISTOGRAM_DIR, append_lines
from peakdrill.rundir.histfiles import hist_record
from peakdrill.rundir.records import HEALTH_COLUMNS

# Locust workers report every 3 s and drain the seconds before the one still filling, so a second's
# last records reach the master about 4 s after it ends; 6 s leaves room for a slow network.
HOLD_OPEN_S = 6.0
# A stand-alone load process drains its own seconds: once drained, a second is complete.
LOCAL_HOLD_OPEN_S = 1.0


@dataclass
class _Second:
    endpoints: dict[str, Bucket] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)  # per load process: requests started
    health: dict[str, dict] = field(default_factory=dict)  # per load process: its health sample


class SecondBook:
    def __init__(self, run_dir: Path, master: str, hold_open_s: float = HOLD_OPEN_S,
                 clock: Callable[[], float] = time.time) -> None:
        self.hist_path = run_dir / HISTOGRAM_DIR / f"{master}.jsonl"
        self.generator_path = run_dir / GENERATOR_FILE
        self.master = master
        self.hold_open_s = hold_open_s
        self.clock = clock
        self._open: dict[int, _Second] = {}
        self.closed_through: int | None = None  # every second up to this one has been written
        self._names: list[str] | None = None  # the generator columns last written
        self.late_records = 0

    def _is_closed(self, second: int) -> bool:
        return self.closed_through is not None and second <= self.closed_through

    def add(self, source: str, histograms: list[dict], health: list[dict]) -> None:
        """One load process's report: wire records (see ``Recorder.drain``) and health samples."""
        late: dict[int, _Second] = {}
        for record in histograms:
            second = int(record["second"])
            book = late.setdefault(second, _Second()) if self._is_closed(second) else \
                self._open.setdefault(second, _Second())
            bucket = book.endpoints.get(record["name"])
            if bucket is None:
                bucket = book.endpoints[record["name"]] = Bucket()
            bucket.add_counts(record["index"], record["counts"])
            bucket.failures += int(record["failures"])
            book.requests[source] = book.requests.get(source, 0) + sum(record["counts"])
        for sample in health:
            second = int(sample["ts"])
            book = late.setdefault(second, _Second()) if self._is_closed(second) else \
                self._open.setdefault(second, _Second())
            book.health[source] = sample
        if late:
            self.late_records += sum(len(book.endpoints) for book in late.values())
            self._write(sorted(late.items()), late=True)

    def close_due(self) -> None:
        """Write every second whose hold-open time is over."""
        last = int(self.clock() - self.hold_open_s) - 1
        due = sorted(s for s in self._open if s <= last)
        self._write([(s, self._open.pop(s)) for s in due])
        if self.closed_through is None or last > self.closed_through:
            self.closed_through = last

    def close_all(self) -> None:
        """Write everything still open (the run is ending)."""
        due = sorted(self._open)
        self._write([(s, self._open.pop(s)) for s in due])
        if due and (self.closed_through is None or due[-1] > self.closed_through):
            self.closed_through = due[-1]

    def _write(self, seconds: list[tuple[int, _Second]], late: bool = False) -> None:
        extra = {"late": True} if late else {}
        records, lines = [], []
        for second, book in seconds:
            records += [hist_record(second, name, book.endpoints[name], **extra) for name in sorted(book.endpoints)]
            if book.health or book.requests:
                lines.append(self._health_line(second, book, extra))
        append_lines(self.hist_path, records)
        append_lines(self.generator_path, lines)

    def _health_line(self, second: int, book: _Second, extra: dict) -> dict:
        names = sorted(set(book.health) | set(book.requests))
        line: dict = {"second": second, "master": self.master, **extra}
        if names != self._names:
            line["names"] = names
            self._names = names
        for column in HEALTH_COLUMNS:
            values = [book.health.get(name, {}).get(column) for name in names]
            if any(value is not None for value in values):
                line[column] = values
        line["requests"] = [book.requests.get(name, 0) for name in names]
        return line
