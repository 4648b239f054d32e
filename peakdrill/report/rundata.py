"""Load a run directory (see docs/run-directory.md) into typed, read-only values.

This is the only module of the report that touches the files of a run; everything downstream
works on :class:`RunData`. Histogram records are merged exactly by
:func:`peakdrill.histograms.load_buckets`; seconds are kept as wall-clock seconds and turned into
run-relative ``t`` only for display.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from peakdrill.errors import RunDirError
from peakdrill.histograms import Bucket, load_buckets
from peakdrill.report.capacity import Capacity, parse_capacity
from peakdrill.rundir import GENERATOR_FILE

DEFAULT_SLO = {"cache_read_p99_ms": 50.0, "order_success_rate": 0.98, "cs_first_response_s": 30.0,
               "recovery_window_s": 10}
DEFAULT_RECOVERY_TARGET_S = 60.0
FINISHED_OK = "completed"


@dataclass(frozen=True)
class Stage:
    name: str
    start_s: float
    end_s: float
    users: int | None
    measured: bool


@dataclass(frozen=True)
class TimelineEntry:
    at_s: float
    experiment: str
    title: str
    recovery_target_s: float


@dataclass(frozen=True)
class Event:
    ts: float
    t: float
    type: str
    fields: dict[str, Any]

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)


@dataclass(frozen=True)
class GeneratorSample:
    ts: float
    source: str
    cpu_percent: float
    users: int | None
    rps: float | None
    # Open model only: requests/s the profile asked of this process, and what it started.
    intended_rps: float | None = None
    achieved_rps: float | None = None


@dataclass(frozen=True)
class Journal:
    file: str
    title: str
    status: str
    deviated: bool | None


@dataclass(frozen=True)
class MetricsScrape:
    ts: float
    ok: bool
    text: str
    error: str


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    kind: str
    status: str
    start_ts: float
    end_ts: float | None
    stages: tuple[Stage, ...]
    timeline: tuple[TimelineEntry, ...]
    slo: dict[str, float]
    endpoints: dict[str, tuple[str, ...]]
    raw: dict[str, Any]

    @property
    def title(self) -> str:
        drill = self.raw.get("drill") or {}
        profile = self.raw.get("profile") or {}
        return str(drill.get("name") or profile.get("name") or self.run_id)


@dataclass(frozen=True)
class RunData:
    run_dir: Path
    info: RunInfo
    events: tuple[Event, ...]
    # Merged buckets keyed by (wall-clock second, endpoint name). Treat as read-only.
    buckets: dict[tuple[int, str], Bucket] = field(repr=False)
    generator: tuple[GeneratorSample, ...] = ()
    journals: tuple[Journal, ...] = ()
    scrapes: tuple[MetricsScrape, ...] = ()
    warnings: tuple[str, ...] = ()
    capacity: Capacity | None = None  # a capacity search's steps and knee (capacity.json)

    def t(self, ts: float) -> float:
        """Seconds since the run started."""
        return ts - self.info.start_ts

    @property
    def seconds(self) -> list[int]:
        return sorted({second for second, _ in self.buckets})

    @property
    def names(self) -> list[str]:
        return sorted({name for _, name in self.buckets})

    @property
    def last_data_ts(self) -> float:
        """End of the data: the last histogram second, event or end_ts, whichever is latest."""
        candidates = [self.info.start_ts]
        if self.buckets:
            candidates.append(max(second for second, _ in self.buckets) + 1.0)
        if self.events:
            candidates.append(max(e.ts for e in self.events))
        if self.info.end_ts is not None:
            candidates.append(self.info.end_ts)
        return max(candidates)


def read_jsonl(path: Path, warnings: list[str]) -> list[dict]:
    """Records of a JSON Lines file; a torn last line is skipped, a bad line elsewhere is an error."""
    if not path.exists():
        return []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise RunDirError(f"{path}: cannot read ({exc.strerror}); fix the file permissions") from exc
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines):
                warnings.append(f"{path.name}: skipped a torn last line (the writer stopped mid-write)")
                continue
            raise RunDirError(f"{path}:{number}: not valid JSON ({exc.msg}); fix or delete that line") from exc
        if isinstance(record, dict):
            records.append(record)
    return records


def _num(value: Any, default: float) -> float:
    try:
        result = float(value)
    except (TypeError, ValueError):
        return default
    return result if math.isfinite(result) else default


def parse_run_json(path: Path) -> RunInfo:
    if not path.is_file():
        raise RunDirError(f"{path}: no run.json here; give the path of a run directory "
                          f"written by `peakdrill drill` (reports/<run-id>/)")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RunDirError(f"{path}: cannot read ({exc.strerror}); fix the file permissions") from exc
    except json.JSONDecodeError as exc:
        raise RunDirError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg}); "
                          f"restore run.json from the drill runner's output") from exc
    if not isinstance(raw, dict) or "start_ts" not in raw:
        raise RunDirError(f"{path}: missing 'start_ts'; run.json must follow docs/run-directory.md")
    start_ts = _num(raw.get("start_ts"), float("nan"))
    if math.isnan(start_ts):
        raise RunDirError(f"{path}: 'start_ts' must be Unix epoch seconds, got {raw.get('start_ts')!r}")
    end = raw.get("end_ts")
    stages = tuple(
        Stage(name=str(s.get("name", f"stage-{i}")), start_s=_num(s.get("start_s"), 0.0),
              end_s=_num(s.get("end_s"), math.inf), users=s.get("users"), measured=bool(s.get("measured", True)))
        for i, s in enumerate(raw.get("stages") or []) if isinstance(s, dict)
    )
    timeline = tuple(
        TimelineEntry(at_s=_num(e.get("at_s"), 0.0), experiment=str(e.get("experiment", "")),
                      title=str(e.get("title", "")),
                      recovery_target_s=_num(e.get("recovery_target_s"), DEFAULT_RECOVERY_TARGET_S))
        for e in raw.get("timeline") or [] if isinstance(e, dict)
    )
    slo = dict(DEFAULT_SLO)
    for key, value in (raw.get("slo") or {}).items():
        slo[key] = _num(value, DEFAULT_SLO.get(key, 0.0))
    endpoints = {str(k): tuple(str(n) for n in (v if isinstance(v, list) else [v]))
                 for k, v in (raw.get("endpoints") or {}).items()}
    return RunInfo(
        run_id=str(raw.get("run_id") or path.parent.name), kind=str(raw.get("kind", "drill")),
        status=str(raw.get("status", "running")), start_ts=start_ts,
        end_ts=None if end is None else _num(end, None), stages=stages, timeline=timeline,
        slo=slo, endpoints=endpoints, raw=raw,
    )


def _journal(path: Path, warnings: list[str]) -> Journal | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        warnings.append(f"journals/{path.name}: unreadable ({exc}); left out of the report")
        return None
    experiment = data.get("experiment") or {}
    deviated = data.get("deviated")
    return Journal(file=path.name, title=str(experiment.get("title") or path.stem),
                   status=str(data.get("status", "unknown")),
                   deviated=None if deviated is None else bool(deviated))


def _torn_tail(path: Path) -> bool:
    """Whether the last line of a JSON Lines file is incomplete (reads only the file's tail)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - 65536))
            tail = handle.read()
    except OSError:
        return False
    body = tail.rstrip(b"\n")
    if size > len(tail) and b"\n" not in body:
        return False  # a line longer than the tail read: cannot tell, load_buckets decides
    last = body.rsplit(b"\n", 1)[-1].strip()
    if not last:
        return False
    try:
        json.loads(last)
    except ValueError:
        return True
    return False


def load_run(run_dir: Path | str) -> RunData:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: not a directory; give the path of a run directory such as "
                          f"reports/<run-id> (written by `peakdrill drill`)")
    info = parse_run_json(run_dir / "run.json")
    warnings: list[str] = []
    events = []
    for record in read_jsonl(run_dir / "events.jsonl", warnings):
        ts = _num(record.get("ts"), info.start_ts + _num(record.get("t"), 0.0))
        t = _num(record.get("t"), ts - info.start_ts)
        fields = {k: v for k, v in record.items() if k not in ("ts", "t", "type")}
        events.append(Event(ts=ts, t=t, type=str(record.get("type", "")), fields=fields))
    events.sort(key=lambda e: e.ts)
    generator = tuple(
        GeneratorSample(ts=_num(r.get("ts"), 0.0), source=str(r.get("source", "?")),
                        cpu_percent=_num(r.get("cpu_percent"), 0.0), users=r.get("users"),
                        rps=None if r.get("rps") is None else _num(r.get("rps"), 0.0),
                        intended_rps=None if r.get("intended_rps") is None else _num(r.get("intended_rps"), 0.0),
                        achieved_rps=None if r.get("achieved_rps") is None else _num(r.get("achieved_rps"), 0.0))
        for r in read_jsonl(run_dir / GENERATOR_FILE, warnings)
    )
    journals = tuple(j for p in sorted((run_dir / "journals").glob("*.json"))
                     if (j := _journal(p, warnings)) is not None)
    scrapes = tuple(
        MetricsScrape(ts=_num(r.get("ts"), 0.0), ok=bool(r.get("ok")), text=str(r.get("text") or ""),
                      error=str(r.get("error") or ""))
        for r in read_jsonl(run_dir / "server-metrics.jsonl", warnings)
    )
    if not (run_dir / "histograms").is_dir():
        warnings.append("histograms/: missing, so there is no client-side latency data")
    for path in sorted((run_dir / "histograms").glob("*.jsonl")):
        if _torn_tail(path):
            warnings.append(f"histograms/{path.name}: skipped a torn last line (the writer stopped mid-write)")
    buckets = load_buckets(run_dir)
    capacity_file = run_dir / "capacity.json"
    capacity = None
    if capacity_file.is_file():
        try:
            capacity = parse_capacity(json.loads(capacity_file.read_text(encoding="utf-8")), str(capacity_file))
        except (OSError, json.JSONDecodeError) as exc:
            raise RunDirError(f"{capacity_file}: unreadable ({exc}); re-run `peakdrill capacity`") from exc
    return RunData(run_dir=run_dir, info=info, events=tuple(events), buckets=buckets, generator=generator,
                   journals=journals, scrapes=scrapes, warnings=tuple(warnings), capacity=capacity)
