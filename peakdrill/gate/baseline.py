"""A compact, committable summary of a run: per endpoint, its merged histogram over the judged
(steady) windows, request rate, error ratio and per-second samples; and what the run was (profile,
scale, target). A baseline is such a summary of a good run, saved as JSON; the gate summarises the
new run the same way and compares the two.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from peakdrill import hdrcodec
from peakdrill.errors import RunDirError, SpecError, quote
from peakdrill.histograms import Bucket
from peakdrill.report.rules import RuleJudge, run_rules
from peakdrill.report.rundata import Group, RunData, Window

FORMAT = 1
WINDOW = "steady"


@dataclass(frozen=True)
class Second:
    p95_ms: float
    p99_ms: float
    count: int
    failures: int


@dataclass(frozen=True)
class EndpointSummary:
    name: str
    bucket: Bucket
    seconds: int  # judged seconds of the run (the rate's denominator)
    per_second: tuple[Second, ...]  # the judged seconds that had requests of this endpoint

    @property
    def count(self) -> int:
        return self.bucket.count

    @property
    def error_ratio(self) -> float:
        return self.bucket.failures / self.count if self.count else 0.0

    @property
    def rps(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def percentile_ms(self, percentile: float) -> float:
        return self.bucket.percentile_ms(percentile)

    def to_dict(self) -> dict:
        return {"count": self.count, "failures": self.bucket.failures, "seconds": self.seconds,
                "rps": round(self.rps, 3), "error_ratio": round(self.error_ratio, 6),
                "p50_ms": self.percentile_ms(50), "p95_ms": self.percentile_ms(95), "p99_ms": self.percentile_ms(99),
                "max_ms": self.bucket.max_ms(), "hist": hdrcodec.encode(*(a.tolist() for a in self.bucket.arrays())),
                "per_second": [[s.p95_ms, s.p99_ms, s.count, s.failures] for s in self.per_second]}


@dataclass(frozen=True)
class Summary:
    run_id: str
    profile: str
    profile_file: str
    scale: float
    target: str
    window: str
    endpoints: dict[str, EndpointSummary]

    def to_dict(self) -> dict:
        return {"format": FORMAT, "run_id": self.run_id, "profile": {"name": self.profile, "file": self.profile_file},
                "scale": self.scale, "target": self.target, "window": self.window,
                "endpoints": {name: e.to_dict() for name, e in sorted(self.endpoints.items())}}


def summarise(data: RunData) -> Summary:
    judge = RuleJudge(data, run_rules(data.info, str(data.run_dir / "run.json")))
    seconds = judge.seconds(WINDOW)
    merged = data.merged({name: Window.of(Group.of([name]), seconds) for name in data.names})
    endpoints = {}
    for name in data.names:
        series = data.endpoint_series[name]
        rows = [row for row in map(series.row, seconds) if row is not None and series.count[row]]
        samples = tuple(Second(round(float(series.p(95)[r]), 3), round(float(series.p(99)[r]), 3),
                               int(series.count[r]), int(series.failures[r])) for r in rows)
        bucket = merged[name]
        if bucket.count:
            endpoints[name] = EndpointSummary(name, bucket, len(seconds), samples)
    raw = data.info.raw
    profile = raw.get("profile") or {}
    return Summary(run_id=data.info.run_id, profile=str(profile.get("name", "")), profile_file=str(profile.get("file", "")),
                   scale=float(raw.get("scale", 1.0)), target=str((raw.get("target") or {}).get("url", "")),
                   window=WINDOW, endpoints=endpoints)


def _bucket(encoded: str, failures: int) -> Bucket:
    _, index, counts = hdrcodec.decode_batch([encoded])
    return Bucket(dict(zip(index.tolist(), counts.tolist())), failures)


def save(summary: Summary, path: Path) -> None:
    try:
        path.write_text(json.dumps(summary.to_dict(), indent=1) + "\n", encoding="utf-8")
    except OSError as exc:
        raise RunDirError(f"{path}: cannot write the baseline ({exc.strerror}); pick a writable -o path") from exc


def load(path: Path) -> Summary:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SpecError(str(path), "", "no such baseline", "save one with `peakdrill baseline save RUN_DIR -o "
                        f"{path}`") from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise SpecError(str(path), "", f"not a readable baseline ({exc})", "save it again with `peakdrill baseline save`") from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise SpecError(str(path), "format", f"expected format {FORMAT}, got {quote(raw.get('format') if isinstance(raw, dict) else raw)}",
                        "save it again with this peakdrill's `peakdrill baseline save`")
    try:
        endpoints = {name: EndpointSummary(
            name, _bucket(e["hist"], int(e["failures"])), int(e["seconds"]),
            tuple(Second(float(p95), float(p99), int(c), int(f)) for p95, p99, c, f in e["per_second"]))
            for name, e in raw["endpoints"].items()}
        return Summary(run_id=str(raw["run_id"]), profile=str(raw["profile"]["name"]), profile_file=str(raw["profile"]["file"]),
                       scale=float(raw["scale"]), target=str(raw["target"]), window=str(raw["window"]), endpoints=endpoints)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SpecError(str(path), "endpoints", f"not a valid baseline ({str(exc)[:80]})",
                        "save it again with `peakdrill baseline save`") from exc
