"""Verdicts of a run: each target measured over its window, and the overall PASS/FAIL/INCONCLUSIVE."""

from __future__ import annotations

from dataclasses import dataclass, field

from peakdrill.report.capacity import Capacity, headroom_verdict
from peakdrill.report.rules import NO_SLO, RuleJudge, run_rules
from peakdrill.report.rundata import FINISHED_OK, Group, RunData, Window
from peakdrill.report.stats import EndpointStats, endpoint_stats
from peakdrill.report.trust import (behind_reasons, generator_max_cpu, refused_reasons, saturated_seconds,
                                    saturation_reasons, status_reason)
from peakdrill.report.verdict import EXIT_CODES, FAIL, INCONCLUSIVE, PASS, Verdict
from peakdrill.report.windows import FaultWindow, overlapping, overlaps, recovery_target_s, timeline_entry
from peakdrill.slo.model import RuleSet

@dataclass(frozen=True)
class FaultSummary:
    fault_id: str
    fault: str
    target: str
    experiment: str
    title: str
    start_t: float
    end_t: float | None
    removed_by: str
    cache_p99_during_ms: float | None
    requests_during: int
    failures_during: int
    recovery: str
    recovery_target_s: float
    provider: str = ""  # who injected it: a Chaos Toolkit provider, or "peakdrill" for its own
    overlaps: tuple[str, ...] = ()  # the other faults active at the same time (a compound fault)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Score:
    run_id: str
    verdict: str
    status: str
    reasons: tuple[str, ...]
    totals: dict
    verdicts: tuple[Verdict, ...]
    faults: tuple[FaultSummary, ...] = ()
    endpoints: tuple[EndpointStats, ...] = ()
    generator_max_cpu: dict = field(default_factory=dict)
    saturated: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    capacity: Capacity | None = None
    integrity: dict | None = None  # reconciliation.json, when the run has one
    latency_bounds: tuple[dict, ...] = ()  # the latency rules' bounds the report's chart draws

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    @property
    def interrupted(self) -> bool:
        return self.status != FINISHED_OK

    def to_dict(self) -> dict:
        return {"run_id": self.run_id, "verdict": self.verdict, "status": self.status,
                "exit_code": self.exit_code, "reasons": list(self.reasons), "totals": self.totals,
                "verdicts": [v.to_dict() for v in self.verdicts],
                "faults": [f.to_dict() for f in self.faults],
                "endpoints": [e.to_dict() for e in self.endpoints],
                "generator_max_cpu": self.generator_max_cpu, "saturated": list(self.saturated),
                "warnings": list(self.warnings),
                "capacity": self.capacity.to_dict() if self.capacity else None, "integrity": self.integrity}


class _Scorer:
    def __init__(self, data: RunData, ruleset: RuleSet) -> None:
        self.data = data
        self.judge = RuleJudge(data, ruleset)
        self.everything = self.judge.everything
        self.windows = self.judge.windows
        # The fault table's "cache-read p99 during" column: the shop's cache_read group, when the run has one.
        cache = Group.selecting(["group:cache_read"], self.judge.groups)
        self.fault_rows: list[list[int]] = []
        windows = self.judge.windows_needed()
        for index, window in enumerate(self.windows):
            end = window.end_ts(data.last_data_ts)
            rows = [row for row, s in enumerate(self.everything.seconds.tolist()) if overlaps(s, window.inject_ts, end)]
            self.fault_rows.append(rows)
            windows[f"fault{index}_cache"] = Window.of(cache, self.everything.seconds[rows].tolist())
        self.merged = data.merged(windows)  # every merged histogram of the report, in one pass

    def fault_summary(self, index: int, window: FaultWindow) -> FaultSummary:
        cache = self.merged[f"fault{index}_cache"]
        rows = self.fault_rows[index]  # counts need no histogram: the per-second series has them
        entry = timeline_entry(self.data, window.experiment)
        return FaultSummary(
            fault_id=window.fault_id, fault=window.fault, target=window.target, experiment=window.experiment,
            title=entry.title if entry and entry.title else window.experiment,
            start_t=round(self.data.t(window.inject_ts), 2),
            end_t=None if window.remove_ts is None else round(self.data.t(window.remove_ts), 2),
            removed_by=window.removed_by,
            cache_p99_during_ms=round(cache.percentile_ms(99), 2) if cache.count else None,
            requests_during=int(self.everything.count[rows].sum()),
            failures_during=int(self.everything.failures[rows].sum()),
            recovery=recovery.text() if (recovery := self.judge.recoveries.get(id(window))) else "not judged",
            recovery_target_s=recovery_target_s(self.data, window), provider=window.provider or "peakdrill",
            overlaps=tuple(w.fault or w.fault_id for w in overlapping(self.windows, window, self.data.last_data_ts)))

    def verdicts(self) -> list[Verdict]:
        result = self.judge.verdicts(self.merged)
        if self.data.capacity:
            result.append(headroom_verdict(self.data.capacity))
        return result


def score_run(data: RunData, ruleset: RuleSet | None = None) -> Score:
    """Score ``data`` by ``ruleset`` (default: the rules its run.json stores)."""
    scorer = _Scorer(data, run_rules(data.info, str(data.run_dir / "run.json")) if ruleset is None else ruleset)
    verdicts = scorer.verdicts()
    trust = []
    if data.info.status != FINISHED_OK:
        trust.append(status_reason(data))
    trust.extend(saturation_reasons(data))
    trust.extend(behind_reasons(data))
    trust.extend(refused_reasons(data))
    if not verdicts:
        trust.append(NO_SLO)
    missing = [f"{v.title}: {v.detail}" for v in verdicts if v.verdict == INCONCLUSIVE]
    failed = [f"{v.title}: {v.measured_text}, target {v.target_text}" for v in verdicts if v.verdict == FAIL]
    if trust or missing:
        overall = INCONCLUSIVE
    elif failed:
        overall = FAIL
    else:
        overall = PASS
    reasons = trust + missing + failed
    if overall == PASS:
        reasons.append(f"all {len(verdicts)} verdicts hold")
    duration = (data.info.end_ts if data.info.end_ts is not None else data.last_data_ts) - data.info.start_ts
    return Score(
        run_id=data.info.run_id, verdict=overall, status=data.info.status, reasons=tuple(reasons),
        totals={"requests": sum(b.count for b in data.endpoint_totals.values()),
                "failures": sum(b.failures for b in data.endpoint_totals.values()),
                "duration_s": round(max(0.0, duration), 1)},
        verdicts=tuple(verdicts), faults=tuple(scorer.fault_summary(i, w) for i, w in enumerate(scorer.windows)),
        endpoints=tuple(endpoint_stats(data)), generator_max_cpu=generator_max_cpu(data),
        saturated=tuple(saturated_seconds(data)),
        warnings=data.warnings, capacity=data.capacity, integrity=scorer.judge.reconciliation,
        latency_bounds=tuple(scorer.judge.latency_bounds()),
    )
