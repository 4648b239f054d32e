"""The gate: a new run against a baseline, endpoint by endpoint, metric by metric.

A metric regresses only when two things agree: the change over the whole judged window is past
the tolerance (p95/p99 more than 10% AND 2 ms worse, error ratio up more than 0.5 points, throughput
down more than 5%), and the run's per-second samples are worse than the baseline's *by more than
that tolerance*: a one-sided rank test (Mann-Whitney) of the run's samples, shifted back by the
tolerance, against the baseline's, at ``alpha`` (error ratio: a two-proportion test). So a few slow
seconds, or a whole run a few percent slower because the machine was busy, do not fail a build,
and a real shift past the tolerance does. Too few per-second samples to tell is INCONCLUSIVE.
"""

from __future__ import annotations

from dataclasses import dataclass

from peakdrill.errors import SpecError, quote
from peakdrill.gate.baseline import EndpointSummary, Summary
from peakdrill.gate.stats import p_greater, p_proportion_greater
from peakdrill.report.verdict import FAIL, INCONCLUSIVE, PASS


@dataclass(frozen=True)
class Tolerances:
    latency_pct: float = 10.0
    latency_ms: float = 2.0
    error_points: float = 0.5
    throughput_pct: float = 5.0
    alpha: float = 0.01
    min_seconds: int = 5


@dataclass(frozen=True)
class Case:
    endpoint: str
    metric: str
    verdict: str
    baseline: float | None
    now: float | None
    unit: str
    p_value: float | None
    detail: str

    @property
    def delta(self) -> float | None:
        return None if self.baseline is None or self.now is None else round(self.now - self.baseline, 3)

    @property
    def delta_pct(self) -> float | None:
        if self.delta is None or not self.baseline:
            return None
        return round(self.delta / self.baseline * 100, 1)

    def to_dict(self) -> dict:
        return {"endpoint": self.endpoint, "metric": self.metric, "verdict": self.verdict, "baseline": self.baseline,
                "now": self.now, "unit": self.unit, "delta": self.delta, "delta_pct": self.delta_pct,
                "p_value": None if self.p_value is None else round(self.p_value, 6), "detail": self.detail}


@dataclass(frozen=True)
class GateResult:
    verdict: str
    baseline_run: str
    run_id: str
    cases: tuple[Case, ...]
    reasons: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"verdict": self.verdict, "baseline_run": self.baseline_run, "run_id": self.run_id,
                "reasons": list(self.reasons), "cases": [c.to_dict() for c in self.cases]}


def check_comparable(baseline: Summary, now: Summary, allow_different_profile: bool, allow_different_scale: bool,
                     baseline_file: str) -> list[str]:
    """Refuse runs of another profile or scale (their load differs) unless allowed; notes for the rest."""
    notes = []
    if baseline.profile != now.profile:
        if not allow_different_profile:
            raise SpecError(baseline_file, "profile", f"the baseline ran profile {quote(baseline.profile)}, this run "
                            f"{quote(now.profile)}", "run the baseline's profile, or pass --allow-different-profile")
        notes.append(f"profiles differ ({baseline.profile} vs {now.profile}): throughput is not compared")
    if baseline.scale != now.scale:
        if not allow_different_scale:
            raise SpecError(baseline_file, "scale", f"the baseline ran at scale {baseline.scale:g}, this run at "
                            f"{now.scale:g}", "run at the baseline's scale, or pass --allow-different-scale")
        notes.append(f"scales differ ({baseline.scale:g} vs {now.scale:g}): throughput is not compared")
    if baseline.target != now.target:
        notes.append(f"targets differ ({baseline.target} vs {now.target})")
    return notes


def _latency(name: str, percentile: float, base: EndpointSummary, now: EndpointSummary, tol: Tolerances) -> Case:
    metric = f"p{percentile:g}"
    b, n = round(base.percentile_ms(percentile), 3), round(now.percentile_ms(percentile), 3)
    limit = max(b * tol.latency_pct / 100, tol.latency_ms)
    pick = (lambda s: s.p95_ms) if percentile == 95 else (lambda s: s.p99_ms)
    return _judge(name, metric, b, n, "ms", n - b > limit, limit, [pick(s) for s in now.per_second],
                  [pick(s) for s in base.per_second], tol,
                  f"worse by more than {tol.latency_pct:g}% and {tol.latency_ms:g} ms")


def _judge(name: str, metric: str, b: float, n: float, unit: str, beyond: bool, shift: float, worse: list[float],
           better: list[float], tol: Tolerances, what: str) -> Case:
    """``beyond``: the whole-window change is past the tolerance; a regression makes the samples
    ``worse`` exceed ``better`` by more than ``shift`` (the tolerance in the samples' unit)."""
    if not beyond:
        return Case(name, metric, PASS, b, n, unit, None, f"within tolerance (fails when {what})")
    if min(len(worse), len(better)) < tol.min_seconds:
        return Case(name, metric, INCONCLUSIVE, b, n, unit, None,
                    f"{what}, but only {min(len(worse), len(better))} per-second samples (need {tol.min_seconds}) to "
                    f"tell it from noise; run longer")
    p = p_greater([value - shift for value in worse], better)
    if p >= tol.alpha:
        return Case(name, metric, PASS, b, n, unit, p, f"{what}, but within noise (rank test of a shift past it p={p:.3g} >= {tol.alpha:g})")
    return Case(name, metric, FAIL, b, n, unit, p, f"{what} (rank test of per-second samples shifted past it "
                                                    f"p={p:.3g})")


def compare(baseline: Summary, now: Summary, tol: Tolerances, throughput: bool = True) -> list[Case]:
    cases = []
    for name, base in sorted(baseline.endpoints.items()):
        current = now.endpoints.get(name)
        if current is None:
            cases.append(Case(name, "requests", INCONCLUSIVE, base.count, 0, "", None,
                              "the baseline has this endpoint, this run made no such requests in its judged window"))
            continue
        cases += [_latency(name, 95, base, current, tol), _latency(name, 99, base, current, tol)]
        b, n = round(base.error_ratio * 100, 3), round(current.error_ratio * 100, 3)
        if n - b > tol.error_points:
            p = p_proportion_greater(current.bucket.failures, current.count, base.bucket.failures, base.count)
            verdict = FAIL if p < tol.alpha else PASS
            cases.append(Case(name, "error_ratio", verdict, b, n, "%", p,
                              f"up by more than {tol.error_points:g} points (two-proportion test p={p:.3g})"))
        else:
            cases.append(Case(name, "error_ratio", PASS, b, n, "%", None,
                              f"within tolerance (fails when up by more than {tol.error_points:g} points)"))
        if throughput:
            b, n = round(base.rps, 3), round(current.rps, 3)
            cases.append(_judge(name, "rps", b, n, "/s", n < b * (1 - tol.throughput_pct / 100),
                                b * tol.throughput_pct / 100, [-s.count for s in current.per_second], [-s.count for s in base.per_second], tol,
                                f"down by more than {tol.throughput_pct:g}% at the same offered load"))
    return cases


def overall(cases: list[Case], trust: list[str]) -> tuple[str, list[str]]:
    failed = [f"{c.endpoint} {c.metric}: {c.baseline:g} -> {c.now:g} {c.unit}: {c.detail}".replace(" %", "%")
              for c in cases if c.verdict == FAIL]
    unsure = [f"{c.endpoint} {c.metric}: {c.detail}" for c in cases if c.verdict == INCONCLUSIVE]
    if trust:  # a run whose own measurement is in doubt proves no regression either
        return INCONCLUSIVE, trust + failed + unsure
    if failed:
        return FAIL, failed + unsure
    if unsure:
        return INCONCLUSIVE, unsure
    return PASS, [f"no regression in {len(cases)} checks"]
