"""SLO rules: which requests, which metric, what bound, over which window.

A rule is plain data, validated when it is parsed (see :mod:`peakdrill.slo.parse`), so a bad rule
stops a run before a request is sent. Bounds are kept in one canonical unit per metric kind
(milliseconds for latency, a fraction for ratios, requests per second for throughput) and carry
the unit the user wrote, which is the unit the report shows.
"""

from __future__ import annotations

from peakdrill.errors import quote

import re
from dataclasses import dataclass

from peakdrill.histograms import Bucket

LATENCY, ERROR_RATIO, SUCCESS_RATIO, RPS = "latency", "error_ratio", "success_ratio", "rps"
# Data integrity (docs/integrity.md): counts of acknowledged records, selected by kind, not request name.
LOST, DUPLICATED, PHANTOM = "lost", "duplicated", "phantom"
INTEGRITY_METRICS = (LOST, DUPLICATED, PHANTOM)
COUNT = "count"
OPERATORS = ("<=", ">=", "==", "<", ">")
WINDOWS = ("steady", "whole", "recovery")
WINDOW_PREFIXES = ("stage:", "during:")
# Unit written -> (metric kind, factor to the canonical unit).
UNITS: dict[str, tuple[str, float]] = {
    "us": (LATENCY, 0.001), "ms": (LATENCY, 1.0), "s": (LATENCY, 1000.0),
    "%": ("ratio", 0.01), "": ("ratio", 1.0),
    "/s": (RPS, 1.0), "rps": (RPS, 1.0), "req/s": (RPS, 1.0),
}
_PERCENTILE = re.compile(r"^p\(?(\d{1,2}(?:\.\d{1,3})?)\)?$")
_ALIASES = {"errors": ERROR_RATIO, "error_rate": ERROR_RATIO, "success_rate": SUCCESS_RATIO,
            "throughput": RPS, "requests_per_s": RPS, "req/s": RPS}
DEFAULT_SUSTAINED_S = 10.0


@dataclass(frozen=True)
class Metric:
    kind: str
    percentile: float | None = None  # latency only; None is the maximum

    @property
    def text(self) -> str:
        if self.kind != LATENCY:
            return self.kind
        return "max" if self.percentile is None else f"p{self.percentile:g}"

    @property
    def integrity(self) -> bool:
        return self.kind in INTEGRITY_METRICS


def parse_metric(text: str) -> Metric:
    name = str(text).strip().lower()
    name = _ALIASES.get(name, name)
    if name in (ERROR_RATIO, SUCCESS_RATIO, RPS) or name in INTEGRITY_METRICS:
        return Metric(name)
    if name == "max":
        return Metric(LATENCY)
    match = _PERCENTILE.match(name)
    if match and 0 < float(match.group(1)) < 100:
        return Metric(LATENCY, float(match.group(1)))
    raise ValueError(f"unknown metric {quote(text)}; use p50..p99.99 (e.g. p95, p99.9), max, "
                     f"error_ratio, success_ratio, rps, or lost, duplicated, phantom (data integrity)")


_BOUND = re.compile(r"^\s*(<=|>=|==|<|>)\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z%/]*)\s*$", re.IGNORECASE)


def holds(op: str, measured: float, target: float) -> bool:
    return {"<=": measured <= target, ">=": measured >= target, "==": measured == target, "<": measured < target,
            ">": measured > target}[op]


@dataclass(frozen=True)
class Bound:
    op: str
    value: float  # canonical unit of the metric kind
    unit: str  # as written, for display: ms, s, %, /s or "" (a bare ratio)

    def holds(self, measured: float) -> bool:
        return holds(self.op, measured, self.value)

    def display(self, canonical: float) -> float:
        return canonical / unit_factor(self.unit)

    @property
    def text(self) -> str:
        return f"{self.op} {self.display(self.value):g}{self.unit}"


def parse_bound(text: str, metric: Metric) -> Bound:
    match = _BOUND.match(str(text))
    if not match:
        raise ValueError(f"bound {quote(text)} is not 'OP NUMBER UNIT'; write e.g. '< 50ms', '>= 98%' "
                         f"or '>= 100/s'")
    op, number, unit = match.group(1), float(match.group(2)), match.group(3).lower()
    if metric.integrity:
        if unit or number != int(number):
            raise ValueError(f"bound {quote(text)}: {metric.text} is a count of records; write e.g. '== 0' or '<= 2'")
        return Bound(op, number, "")
    if op == "==":
        raise ValueError(f"bound {quote(text)}: '==' is for counts (lost, duplicated, phantom); use <, <=, > or >=")
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r} in {quote(text)}; use ms, s or us for latency, % for ratios, "
                         f"/s for rps")
    kind, factor = UNITS[unit]
    wanted = "ratio" if metric.kind in (ERROR_RATIO, SUCCESS_RATIO) else metric.kind
    if kind != wanted:
        examples = {LATENCY: "'< 50ms' or '<= 2s'", "ratio": "'< 1%' or '<= 0.01'", RPS: "'>= 100/s'"}
        raise ValueError(f"bound {quote(text)} has the wrong unit for {metric.text}: it needs "
                         f"{ {LATENCY: 'a time', 'ratio': 'a ratio', RPS: 'a rate'}[wanted] }, e.g. {examples[wanted]}")
    if kind == "ratio" and number * factor > 1:
        raise ValueError(f"bound {quote(text)} is above 100%")
    return Bound(op, number * factor, unit)


def unit_factor(unit: str) -> float:
    return UNITS[unit][1]


def check_window(text: str) -> str:
    window = str(text).strip()
    if window in WINDOWS or any(window.startswith(p) and len(window) > len(p) for p in WINDOW_PREFIXES):
        return window
    raise ValueError(f"unknown window {quote(window)}; use steady, whole, recovery, stage:<stage name> or "
                     f"during:<fault or experiment>")


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    requests: tuple[str, ...]  # exact names, globs with * and ?, group:<name>, or *
    metric: Metric
    bound: Bound
    window: str = "steady"
    abort: bool = False
    sustained_s: float = DEFAULT_SUSTAINED_S  # abort rules: how long the bound must be broken

    @property
    def text(self) -> str:
        return f"{', '.join(self.requests)}: {self.metric.text} {self.bound.text} ({self.window})"

    def to_dict(self) -> dict:
        """The rule as run.json stores it: the same fields a rule file takes."""
        result = {"id": self.id, "name": self.title, "requests": list(self.requests), "metric": self.metric.text,
                  "bound": self.bound.text, "window": self.window}
        if self.abort:
            result |= {"abort": True, "sustained": self.sustained_s}
        return result


def measure(metric: Metric, bucket: Bucket, seconds: int) -> float:
    """The metric over a merged bucket of ``seconds`` seconds, in the canonical unit; the bucket has requests."""
    if metric.kind == LATENCY:
        return bucket.max_ms() if metric.percentile is None else bucket.percentile_ms(metric.percentile)
    if metric.kind == ERROR_RATIO:
        return bucket.failures / bucket.count
    if metric.kind == SUCCESS_RATIO:
        return (bucket.count - bucket.failures) / bucket.count
    return bucket.count / seconds if seconds else 0.0


@dataclass(frozen=True)
class RuleSet:
    """The rules a run is scored by, and the named groups they may select."""

    rules: tuple[Rule, ...] = ()
    groups: dict[str, tuple[str, ...]] | None = None
    recovery_window_s: float = 10.0

    @property
    def scored(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.window != "recovery")

    @property
    def recovery(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.window == "recovery")

    @property
    def aborts(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.abort)

    def to_dict(self) -> dict:
        return {"rules": [r.to_dict() for r in self.rules], "groups": {k: list(v) for k, v in (self.groups or {}).items()},
                "recovery_window": self.recovery_window_s}
