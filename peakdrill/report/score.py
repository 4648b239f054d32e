"""Verdicts of a run: each target measured over its window, and the overall PASS/FAIL/INCONCLUSIVE."""

from __future__ import annotations

from dataclasses import dataclass, field

from peakdrill.report.capacity import Capacity, headroom_verdict
from peakdrill.report.recovery import measure_recovery
from peakdrill.report.rundata import FINISHED_OK, RunData
from peakdrill.report.series import EndpointStats, endpoint_stats, max_ms, merge_seconds, per_second
from peakdrill.report.trust import behind_reasons, generator_max_cpu, saturated_seconds, saturation_reasons, status_reason
from peakdrill.report.trust import refused_reasons
from peakdrill.report.verdict import EXIT_CODES, FAIL, INCONCLUSIVE, PASS, Verdict, compare
from peakdrill.report.windows import (FaultWindow, describe_seconds, fault_windows, is_measured, overlaps,
                                      recovery_target_s, timeline_entry)

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
                "capacity": self.capacity.to_dict() if self.capacity else None}


def _missing(vid: str, title: str, target: float, unit: str, comparison: str, window: str, why: str) -> Verdict:
    return Verdict(vid, title, INCONCLUSIVE, None, target, unit, comparison, window, why, "no data")


class _Scorer:
    def __init__(self, data: RunData) -> None:
        self.data = data
        self.slo = data.info.slo
        self.endpoints = data.info.endpoints
        self.everything = per_second(data)
        self.cache = per_second(data, self.endpoints.get("cache_read", ()))
        self.measured = [s for s in sorted(self.everything) if is_measured(data, s)]
        self.windows = fault_windows(data)
        self.recoveries = {id(w): measure_recovery(data, w, self.cache, self.everything) for w in self.windows}

    def excluded(self, window: FaultWindow) -> tuple[float, float]:
        """The span a fault and its recovery period take out of the steady windows."""
        recovery = self.recoveries[id(window)]
        end = recovery.recovered_ts if recovery.recovered else self.data.last_data_ts + 1
        return window.inject_ts, max(end, window.end_ts(self.data.last_data_ts))

    def cache_read(self) -> Verdict:
        title, target = "Cache-backed read p99 (steady windows)", float(self.slo["cache_read_p99_ms"])
        spans = [self.excluded(w) for w in self.windows]
        steady = [s for s in self.measured if not any(overlaps(s, a, b) for a, b in spans)]
        window = describe_seconds(self.data, steady)
        bucket = merge_seconds(self.cache, steady)
        if not bucket.count:
            why = "no steady seconds" if not steady else "no cache-read requests in the steady windows"
            return _missing("cache_read_p99", title, target, "ms", "<=", window, why)
        p99 = round(bucket.percentile_ms(99), 2)
        return Verdict("cache_read_p99", title, compare(p99, target, "<="), p99, target, "ms", "<=", window,
                       f"{bucket.count} reads over {len(steady)} s; p50 {bucket.percentile_ms(50):.1f} ms",
                       f"{p99:g} ms")

    def order_success(self) -> Verdict:
        title, target = "Order success rate", round(float(self.slo["order_success_rate"]) * 100, 3)
        orders = per_second(self.data, self.endpoints.get("order", ()))
        bucket = merge_seconds(orders, self.measured)
        window = describe_seconds(self.data, self.measured)
        if not bucket.count:
            return _missing("order_success_rate", title, target, "%", ">=", window, "no order requests measured")
        rate = round((bucket.count - bucket.failures) / bucket.count * 100, 3)
        return Verdict("order_success_rate", title, compare(rate, target, ">="), rate, target, "%", ">=", window,
                       f"{bucket.count - bucket.failures} of {bucket.count} succeeded ({bucket.failures} failed)",
                       f"{rate:g}%")

    def cs_first_response(self) -> Verdict:
        title, target = "Customer-service first response p95", float(self.slo["cs_first_response_s"])
        cs = per_second(self.data, self.endpoints.get("cs_first_response", ()))
        bucket = merge_seconds(cs, self.measured)
        window = describe_seconds(self.data, self.measured)
        if not bucket.count:
            return _missing("cs_first_response", title, target, "s", "<=", window, "no first responses measured")
        p95 = round(bucket.percentile_ms(95) / 1000, 2)
        return Verdict("cs_first_response", title, compare(p95, target, "<="), p95, target, "s", "<=", window,
                       f"{bucket.count} chats; max {max_ms(bucket) / 1000:.1f} s", f"{p95:g} s")

    def recovery(self, window: FaultWindow) -> Verdict:
        recovery = self.recoveries[id(window)]
        target = recovery_target_s(self.data, window)
        label = window.fault or window.fault_id
        title = f"Recovery after {label}"
        t_from = window.remove_ts if window.remove_ts is not None else window.inject_ts
        span = f"from t={self.data.t(t_from):.0f}s"
        vid = f"recovery:{window.fault_id}"
        if not self.cache:
            return _missing(vid, title, target, "s", "<=", span, "no cache-read data to judge recovery by")
        if not recovery.removed:
            return Verdict(vid, title, INCONCLUSIVE, None, target, "s", "<=", span,
                           "no fault_removed event: the fault lasted until the end of the data", recovery.text())
        needed = target + float(self.slo["recovery_window_s"])
        if not recovery.recovered and recovery.searched_s < needed:
            return Verdict(vid, title, INCONCLUSIVE, None, target, "s", "<=", span,
                           f"the data ends {recovery.searched_s:.0f} s after removal; judging recovery needs "
                           f"{needed:g} s (target + sustained window)", recovery.text())
        if not recovery.recovered:
            return Verdict(vid, title, FAIL, None, target, "s", "<=", span,
                           f"SLOs never held for {self.slo['recovery_window_s']:g} s in a row after removal",
                           recovery.text())
        return Verdict(vid, title, compare(recovery.recovery_s, target, "<="), recovery.recovery_s, target,
                       "s", "<=", span, f"SLOs held for {self.slo['recovery_window_s']:g} s from "
                       f"t={self.data.t(recovery.recovered_ts):.0f}s (removed by {window.removed_by or '?'})",
                       recovery.text())

    def fault_summary(self, window: FaultWindow) -> FaultSummary:
        end = window.end_ts(self.data.last_data_ts)
        seconds = [s for s in self.everything if overlaps(s, window.inject_ts, end)]
        cache = merge_seconds(self.cache, seconds)
        everything = merge_seconds(self.everything, seconds)
        entry = timeline_entry(self.data, window.experiment)
        return FaultSummary(
            fault_id=window.fault_id, fault=window.fault, target=window.target, experiment=window.experiment,
            title=entry.title if entry and entry.title else window.experiment,
            start_t=round(self.data.t(window.inject_ts), 2),
            end_t=None if window.remove_ts is None else round(self.data.t(window.remove_ts), 2),
            removed_by=window.removed_by,
            cache_p99_during_ms=round(cache.percentile_ms(99), 2) if cache.count else None,
            requests_during=everything.count, failures_during=everything.failures,
            recovery=self.recoveries[id(window)].text(), recovery_target_s=recovery_target_s(self.data, window))

    def verdicts(self) -> list[Verdict]:
        result = []
        if self.endpoints.get("cache_read"):
            result.append(self.cache_read())
        if self.endpoints.get("order"):
            result.append(self.order_success())
        if self.endpoints.get("cs_first_response"):
            result.append(self.cs_first_response())
        result.extend(self.recovery(w) for w in self.windows)
        if self.data.capacity:
            result.append(headroom_verdict(self.data.capacity))
        return result


def score_run(data: RunData) -> Score:
    scorer = _Scorer(data)
    verdicts = scorer.verdicts()
    trust = []
    if data.info.status != FINISHED_OK:
        trust.append(status_reason(data))
    trust.extend(saturation_reasons(data))
    trust.extend(behind_reasons(data))
    trust.extend(refused_reasons(data))
    if not verdicts:
        trust.append("nothing to score: run.json lists no endpoints for cache_read, order or cs_first_response, "
                     "and there is no capacity.json")
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
        totals={"requests": sum(b.count for b in data.buckets.values()),
                "failures": sum(b.failures for b in data.buckets.values()),
                "duration_s": round(max(0.0, duration), 1)},
        verdicts=tuple(verdicts), faults=tuple(scorer.fault_summary(w) for w in scorer.windows),
        endpoints=tuple(endpoint_stats(data)), generator_max_cpu=generator_max_cpu(data),
        saturated=tuple(saturated_seconds(data)),
        warnings=data.warnings, capacity=data.capacity,
    )
