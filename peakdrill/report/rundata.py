"""The report's data layer: a run directory (docs/run-directory.md) read in streaming passes.

This is the only module of the report that reads the files of a run. Its API, for the scorer and
for SLO rules:

``data = load_run(run_dir, groups={"checkout": Group.of(["POST /api/orders"])}, percentiles=(75,))``
    Pass 1. Reads run.json (:class:`peakdrill.rundir.RunMeta`), the events, journals, generator
    health and server metrics, and streams every histogram record once, computing per second:
    ``data.endpoint_series[name]`` and ``data.group_series[group]`` (:class:`Series`: count,
    failures, p50/p90/p95/p99/p99.9/p99.99, any other ``percentiles`` asked for, and max, in ms), plus each endpoint's whole-run histogram
    (``data.endpoint_totals``). Groups named after run.json's ``endpoints`` keys (``cache_read``,
    ``order``, ...), :data:`ALL` (every endpoint) and :data:`CHARTED` are always declared.
``data.ensure(groups, percentiles)``
    The series of groups (or percentiles) load_run was not told about: one more pass over the
    histograms, so declare them to load_run when they are known before reading (SLO rules are).
``data.merged({"steady": Window(Group.of(names), spans)})``
    Pass 2 (any number of windows at once). One merged :class:`Bucket` per window: every request of
    the window's endpoints that started in its seconds, exact. Windows that depend on pass 1 (steady
    state outside the recovery periods) are declared here; only the records a window needs are
    decoded.

Memory is bounded by endpoints x (open seconds + windows) histograms, plus per-second numbers;
time is linear in the records (a record that arrives more than ``HORIZON_S`` out of order is a
straggler: pass 1 runs once more with the stragglers fed first, so nothing is lost or misplaced).
Seconds are wall-clock seconds; ``data.t(ts)`` turns them into run time for display.
"""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from peakdrill.errors import RunDirError
from peakdrill.histograms import Bucket, DenseCounts
from peakdrill.report.capacity import Capacity, parse_capacity
from peakdrill.report.series import HORIZON_S, SERIES_PERCENTILES, Group, Series, SeriesBuilder
from peakdrill.report.servermetrics import cache_counts
from peakdrill.rundir import (EVENTS_FILE, GENERATOR_FILE, HISTOGRAM_DIR, SERVER_METRICS_FILE, RunDir, RunMeta,
                              RunStatus, iter_jsonl)
from peakdrill.rundir.histfiles import Located, batches, decode, iter_all, iter_by_second
from peakdrill.rundir.meta import DEFAULT_RECOVERY_TARGET_S, DEFAULT_SLO, Stage, TimelineEntry
from peakdrill.rundir.records import SATURATED_CPU_PERCENT, Event, HealthReader, HealthSample, SecondSpan, Where, parse_event, parse_scrape

__all__ = ["ALL", "DEFAULT_RECOVERY_TARGET_S", "DEFAULT_SLO", "FINISHED_OK", "Event", "Group", "Health",
           "RunData", "RunInfo", "Series", "Stage", "TimelineEntry", "Window", "load_run"]

ALL = "*"
CHARTED = "charted"  # every endpoint but the CS first-response pseudo-endpoint (it spans seconds)
FINISHED_OK = RunStatus.COMPLETED.value
RunInfo = RunMeta


@dataclass(frozen=True)
class Window:
    """Endpoints (a :class:`Group`) over wall-clock seconds given as spans ``(first, end)``, end excluded."""

    group: Group
    spans: tuple[tuple[int, int], ...]

    @classmethod
    def of(cls, group: Group, seconds: Iterable[int]) -> Window:
        spans: list[list[int]] = []
        for second in sorted(set(seconds)):
            if spans and second == spans[-1][1]:
                spans[-1][1] = second + 1
            else:
                spans.append([second, second + 1])
        return cls(group, tuple((a, b) for a, b in spans))

    def covers_many(self, seconds: np.ndarray) -> np.ndarray:
        if not self.spans:
            return np.zeros(len(seconds), dtype=bool)
        starts = np.array([a for a, _ in self.spans], dtype=np.int64)
        ends = np.array([b for _, b in self.spans], dtype=np.int64)
        at = np.searchsorted(starts, seconds, side="right") - 1
        return (at >= 0) & (seconds < ends[np.maximum(at, 0)])


@dataclass(frozen=True)
class Journal:
    file: str
    title: str
    status: str
    deviated: bool | None


@dataclass(frozen=True)
class MetricsScrape:
    """One scrape of the target: the cache metric's (count, sum) per label set, or why it failed."""

    ts: float
    ok: bool
    counts: dict[str, tuple[float, float]]
    error: str


@dataclass(frozen=True)
class Health:
    """What the report needs of the load processes' health (``generator.jsonl``), per process."""

    max_cpu: dict[str, float]
    hot_seconds: dict[str, tuple[int, ...]]  # seconds at >= SATURATED_CPU_PERCENT
    rates: dict[str, tuple[tuple[float, float, float], ...]]  # open model: (ts, intended, achieved)
    requests: dict[str, int] = field(default_factory=dict)  # format 2: requests each process started


@dataclass(frozen=True)
class RunData:
    run_dir: Path
    info: RunMeta
    events: tuple[Event, ...]
    span: SecondSpan
    endpoint_series: dict[str, Series] = field(repr=False)
    group_series: dict[str, Series] = field(repr=False)
    endpoint_totals: dict[str, Bucket] = field(repr=False)
    groups: dict[str, Group] = field(repr=False)
    health: Health = field(default_factory=lambda: Health({}, {}, {}))
    journals: tuple[Journal, ...] = ()
    scrapes: tuple[MetricsScrape, ...] = ()
    warnings: tuple[str, ...] = ()
    capacity: Capacity | None = None  # a capacity search's steps and knee (capacity.json)
    irregular: frozenset[Path] = frozenset()  # histogram files pass 2 must read in full
    percentiles: tuple[float, ...] = SERIES_PERCENTILES  # what each Series holds

    def t(self, ts: float) -> float:
        """Seconds since the run started."""
        return ts - self.info.start_ts

    @property
    def names(self) -> list[str]:
        return sorted(name for name, series in self.endpoint_series.items() if len(series))

    def series(self, key: str) -> Series:
        """A declared group's series, else an endpoint's (empty if neither has data)."""
        if key in self.group_series:
            return self.group_series[key]
        return self.endpoint_series.get(key, Series.empty(self.percentiles))

    def ensure(self, groups: Mapping[str, Group], percentiles: Iterable[float] = ()) -> None:
        """Make the series of ``groups`` (with ``percentiles`` too) available, reading the histograms
        once more if load_run was not told about them (declare them there to save that pass)."""
        missing = {key: group for key, group in groups.items() if self.groups.get(key) != group}
        wanted = {float(p) for p in percentiles}
        if not wanted <= set(self.percentiles):
            missing = dict(self.groups) | dict(groups)
        if not missing:
            return
        builder = read_series(self.run_dir, self.span, missing, [], set(), sorted(set(self.percentiles) | wanted))
        self.group_series.update(builder.group_series())
        self.groups.update(missing)
        if not wanted <= set(self.percentiles):
            self.endpoint_series.update(builder.endpoint_series())
            object.__setattr__(self, "percentiles", builder.percentiles)

    @property
    def last_data_ts(self) -> float:
        """End of the data: the last histogram second, event or end_ts, whichever is latest."""
        candidates = [self.info.start_ts]
        everything = self.group_series[ALL]
        if len(everything):
            candidates.append(int(everything.seconds[-1]) + 1.0)
        if self.events:
            candidates.append(max(e.ts for e in self.events))
        if self.info.end_ts is not None:
            candidates.append(self.info.end_ts)
        return max(candidates)

    def merged(self, windows: Mapping[str, Window]) -> dict[str, Bucket]:
        """Pass 2: one exact merged bucket per window. Only the records some window needs are decoded."""
        keys = list(windows)
        sums = {key: DenseCounts() for key in keys}
        matches: dict[str, np.ndarray] = {}  # per endpoint name: which windows take it
        names = {n for n in self.endpoint_series if any(windows[key].group.matches(n) for key in keys)}
        for batch in batches(iter_all(self.run_dir, self.span, names=names, irregular=set(self.irregular))):
            seconds = np.fromiter((record.second for record, _ in batch), np.int64, len(batch))
            for record, _ in batch:
                if record.name not in matches:
                    matches[record.name] = np.array([windows[k].group.matches(record.name) for k in keys], bool)
            takes = np.stack([matches[record.name] for record, _ in batch], axis=1) if keys else np.zeros((0, len(batch)), bool)
            for row, key in enumerate(keys):
                takes[row] &= windows[key].covers_many(seconds)
            needed = np.flatnonzero(takes.any(axis=0))
            if needed.size == 0:
                continue
            chosen = [batch[at] for at in needed]
            position, index, counts = decode(chosen)
            failures = np.fromiter((record.failures for record, _ in chosen), np.int64, len(chosen))
            for row, key in enumerate(keys):
                wanted = takes[row][needed]
                if wanted.any():
                    sums[key].add(index[wanted[position]], counts[wanted[position]], int(failures[wanted].sum()))
        return {key: dense.bucket() for key, dense in sums.items()}


def read_events(run_dir: Path, info: RunMeta, warnings: list[str]) -> tuple[Event, ...]:
    path = run_dir / EVENTS_FILE
    events = [parse_event(raw, Where(path, n), info.start_ts) for n, raw in iter_jsonl(path, warnings)]
    return tuple(sorted(events, key=lambda e: e.ts))


def iter_health(run_dir: Path, warnings: list[str] | None = None) -> Iterator[HealthSample]:
    """Every load process's health sample (one per process per second), from either format."""
    path = run_dir / GENERATOR_FILE
    reader = HealthReader()
    for number, raw in iter_jsonl(path, warnings):
        yield from reader.samples(raw, Where(path, number))


class _HealthFacts:
    """What the report keeps of the load processes' health, gathered line by line."""

    def __init__(self) -> None:
        self.max_cpu: dict[str, float] = {}
        self.hot: dict[str, list[int]] = defaultdict(list)
        self.rates: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
        self.requests: dict[str, int] = defaultdict(int)

    def sample(self, sample: HealthSample) -> None:
        if sample.requests:
            self.requests[sample.source] += sample.requests
        if sample.cpu_percent is not None:
            self.cpu(sample.source, int(sample.ts), sample.cpu_percent)
        if sample.intended_rps is not None and sample.achieved_rps is not None:
            self.rates[sample.source].append((sample.ts, sample.intended_rps, sample.achieved_rps))

    def cpu(self, source: str, second: int, cpu: float) -> None:
        if cpu > self.max_cpu.get(source, -1.0):
            self.max_cpu[source] = cpu
        if cpu >= SATURATED_CPU_PERCENT:
            self.hot[source].append(second)

    def columns(self, second: int, names: list[str], columns: dict[str, list]) -> None:
        """A format-2 line: one value per load process in each column (no object per value)."""
        for name, cpu in zip(names, columns.get("cpu_percent", ())):
            if cpu is not None:
                self.cpu(name, second, cpu)
        for name, count in zip(names, columns.get("requests", ())):
            if count:
                self.requests[name] += count
        for name, intended, achieved in zip(names, columns.get("intended_rps", ()), columns.get("achieved_rps", ())):
            if intended is not None and achieved is not None:
                self.rates[name].append((second + 0.5, float(intended), float(achieved)))

    def health(self) -> Health:
        return Health(max_cpu={k: round(float(v), 1) for k, v in sorted(self.max_cpu.items())},
                      hot_seconds={k: tuple(v) for k, v in self.hot.items()},
                      rates={k: tuple(sorted(v)) for k, v in self.rates.items()},
                      requests=dict(sorted(self.requests.items())))


def read_health(run_dir: Path, warnings: list[str]) -> Health:
    path = run_dir / GENERATOR_FILE
    reader, facts = HealthReader(), _HealthFacts()
    for number, raw in iter_jsonl(path, warnings):
        where = Where(path, number)
        if "second" in raw:
            facts.columns(*reader.table.columns(raw, where))
        else:
            for sample in reader.samples(raw, where):
                facts.sample(sample)
    return facts.health()


def read_journal(path: Path, warnings: list[str]) -> Journal | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        warnings.append(f"journals/{path.name}: unreadable ({str(exc)[:80]}); left out of the report")
        return None
    if not isinstance(data, dict):
        warnings.append(f"journals/{path.name}: not a Chaos Toolkit journal; left out of the report")
        return None
    experiment = data.get("experiment") if isinstance(data.get("experiment"), dict) else {}
    deviated = data.get("deviated")
    return Journal(file=path.name, title=str(experiment.get("title") or path.stem),
                   status=str(data.get("status", "unknown")),
                   deviated=None if deviated is None else bool(deviated))


def read_scrapes(run_dir: Path, warnings: list[str]) -> tuple[MetricsScrape, ...]:
    path = run_dir / SERVER_METRICS_FILE
    result = []
    for number, raw in iter_jsonl(path, warnings):
        scrape = parse_scrape(raw, Where(path, number))
        result.append(MetricsScrape(ts=scrape.ts, ok=scrape.ok, counts=cache_counts(scrape.text) if scrape.ok else {},
                                    error=scrape.error))
    return tuple(sorted(result, key=lambda s: s.ts))


def read_capacity(run_dir: Path) -> Capacity | None:
    capacity_file = run_dir / "capacity.json"
    if not capacity_file.is_file():
        return None
    try:
        raw = json.loads(capacity_file.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise RunDirError(f"{capacity_file}: unreadable ({str(exc)[:80]}); re-run `peakdrill capacity`") from exc
    return parse_capacity(raw, str(capacity_file))


def default_groups(info: RunMeta) -> dict[str, Group]:
    groups = {ALL: Group(), CHARTED: Group.of(None, info.endpoints.get("cs_first_response", ()))}
    for key, names in info.endpoints.items():
        groups.setdefault(key, Group.of(names))
    return groups


def _pass_one(run_dir: Path, span: SecondSpan, groups: dict[str, Group], warnings: list[str],
              stragglers: list[Located], irregular: set[Path],
              percentiles: Iterable[float]) -> tuple[SeriesBuilder, list[Located]]:
    """Stream the histogram records once; returns the builder and the records that came too late."""
    builder = SeriesBuilder(groups, span.first, percentiles)
    skip = {(where.path, where.line) for _, where in stragglers}
    late: list[Located] = []

    def in_time(located: Located) -> bool:
        if (located[1].path, located[1].line) in skip:
            return False  # fed first
        if builder.is_straggler(located[0].second):
            late.append(located)
            return False
        return True

    try:
        stream = itertools.chain(stragglers, filter(in_time, iter_by_second(run_dir, span, warnings, irregular)))
        for batch in batches(stream):
            position, index, counts = decode(batch)
            builder.add([(r.second, r.name, r.failures) for r, _ in batch], position, index, counts)
    except ValueError as exc:  # too many distinct names: hostile or broken data
        raise RunDirError(f"{run_dir / HISTOGRAM_DIR}: {exc}; is this a run directory written by peakdrill?") from exc
    builder.close_through()
    return builder, late


def read_series(run_dir: Path, span: SecondSpan, groups: dict[str, Group], warnings: list[str],
                irregular: set[Path] | None = None, percentiles: Iterable[float] = ()) -> SeriesBuilder:
    """Pass 1 over the histogram files (twice if some records came too late to stream). Files whose
    lines do not show each name as ``json.dumps`` writes it are added to ``irregular``."""
    read_warnings: list[str] = []
    irregular = set() if irregular is None else irregular
    builder, late = _pass_one(run_dir, span, groups, read_warnings, [], irregular, percentiles)
    stragglers: list[Located] = []
    while late:  # rarely more than once: each round feeds every straggler found so far first
        stragglers += late
        builder, late = _pass_one(run_dir, span, groups, [], stragglers, irregular, percentiles)
    if stragglers:
        warnings.append(f"histograms/: {len(stragglers)} records arrived more than {HORIZON_S} s out of order; "
                        f"merged into their seconds")
    warnings.extend(dict.fromkeys(read_warnings))
    return builder


def load_run(run_dir: Path | str, groups: Mapping[str, Group] | None = None,
             percentiles: Iterable[float] = ()) -> RunData:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: not a directory; give the path of a run directory such as "
                          f"reports/<run-id> (written by `peakdrill drill`)")
    info = RunDir(run_dir).meta()
    warnings: list[str] = []
    events = read_events(run_dir, info, warnings)
    health = read_health(run_dir, warnings)
    journals = tuple(j for p in sorted((run_dir / "journals").glob("*.json")) if (j := read_journal(p, warnings)) is not None)
    scrapes = read_scrapes(run_dir, warnings)
    if not (run_dir / HISTOGRAM_DIR).is_dir():
        warnings.append("histograms/: missing, so there is no client-side latency data")
    all_groups = default_groups(info) | dict(groups or {})
    span = SecondSpan.of_run(info.start_ts, info.planned_end_ts)
    irregular: set[Path] = set()
    builder = read_series(run_dir, span, all_groups, warnings, irregular, percentiles)
    return RunData(irregular=frozenset(irregular), percentiles=builder.percentiles, run_dir=run_dir, info=info, events=events, span=span,
                   endpoint_series=builder.endpoint_series(), group_series=builder.group_series(),
                   endpoint_totals=builder.endpoint_totals(), groups=all_groups, health=health,
                   journals=journals, scrapes=scrapes, warnings=tuple(warnings), capacity=read_capacity(run_dir))
