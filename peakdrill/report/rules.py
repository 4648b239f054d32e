"""SLO rules measured over a run: each rule's requests, merged over its window, against its bound.

Data comes through the report's data layer (:mod:`peakdrill.report.rundata`): each rule's requests
are a :class:`Group` whose per-second series (count, failures, percentiles) pass 1 computes
(:func:`rule_groups` declares them to ``load_run``), and every rule's window is merged exactly in
one pass 2 (:meth:`RuleJudge.windows_needed`). Windows are wall-clock seconds (see
:mod:`peakdrill.report.windows`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from peakdrill.errors import SpecError
from peakdrill.histograms import Bucket
from peakdrill.rundir.acks import read_reconciliation
from peakdrill.report.integrity import integrity_verdict
from peakdrill.report.recovery import Recovery, measure_recovery
from peakdrill.report.rundata import ALL, CHARTED, Group, RunData, Series, Window, load_run
from peakdrill.rundir import RunDir, RunMeta
from peakdrill.report.verdict import FAIL, INCONCLUSIVE, PASS, Verdict
from peakdrill.report.windows import (FaultWindow, cleared_ts, describe_seconds, fault_windows, is_measured, overlapping,
                                      overlaps, recovery_target_s, stage_at, timeline_entry)
from peakdrill.slo.model import ERROR_RATIO, LATENCY, RPS, SUCCESS_RATIO, UNITS, Rule, RuleSet, holds, measure
from peakdrill.slo.parse import parse_section
from peakdrill.slo.presets import reference_shop
from peakdrill.slo.select import select

NO_SLO = ("no SLO set: nothing to judge this run by; give rules with --slo FILE.yaml, --threshold "
          "'REQUESTS: METRIC BOUND' or a drill's slo: section (docs/slo.md)")


def run_rules(info: RunMeta, source: str = "run.json") -> RuleSet:
    """The rules run.json stores; a run recorded before rules existed is the reference shop's targets."""
    raw = info.raw
    if "slo_rules" in raw:
        try:
            return parse_section(raw["slo_rules"], source)
        except SpecError as exc:
            raise SpecError(source, f"slo_rules: {exc.field}", exc.problem, exc.fix) from exc
    return reference_shop(info.slo, info.endpoints)


def _groups(info: RunMeta, ruleset: RuleSet) -> dict:
    return dict(info.endpoints) | dict(ruleset.groups or {})


def rule_key(rule: Rule) -> str:
    return "rule:" + "|".join(rule.requests)


def rule_groups(info: RunMeta, ruleset: RuleSet) -> tuple[dict[str, Group], tuple[float, ...]]:
    """The groups (and percentiles) the rules need per second: declare them to ``load_run``."""
    named = _groups(info, ruleset)
    # Integrity rules select kinds of acknowledgement and read reconciliation.json, not histograms.
    groups = {rule_key(rule): Group.selecting(rule.requests, named) for rule in ruleset.rules if not rule.metric.integrity}
    percentiles = tuple(r.metric.percentile for r in ruleset.rules if r.metric.percentile is not None)
    return groups, percentiles


def _display(rule: Rule, canonical: float) -> float:
    """A value in the unit the rule's bound was written in, rounded as the report shows it."""
    value = canonical / UNITS[rule.bound.unit][1]
    return round(value, 3 if rule.bound.unit == "%" else 5 if rule.bound.unit == "" else 2)


def _text(value: float, unit: str) -> str:
    return f"{value:g}{unit}" if unit in ("%", "") else f"{value:g} {unit}"


def load_for_rules(run_dir: Path | str, rules: RuleSet | None = None) -> tuple[RunData, RuleSet]:
    """Read a run with its rules' series in the first pass: the run and the rules (default: its own)."""
    path = Path(run_dir)
    if not (path / "run.json").is_file():
        return load_run(path), RuleSet(())  # load_run says what is wrong with the directory
    info = RunDir(path).meta()
    ruleset = rules if rules is not None else run_rules(info, str(path / "run.json"))
    groups, percentiles = rule_groups(info, ruleset)
    return load_run(path, groups, percentiles), ruleset


class RuleJudge:
    def __init__(self, data: RunData, ruleset: RuleSet) -> None:
        self.data, self.ruleset = data, ruleset
        self.groups = _groups(data.info, ruleset)
        data.ensure(*rule_groups(data.info, ruleset))  # nothing to read when load_run was told
        self.everything = data.series(ALL)
        self.measured = [s for s in self.everything.seconds.tolist() if is_measured(data, s)]
        self.windows = fault_windows(data)
        self.reconciliation = read_reconciliation(data.run_dir)
        self.recoveries: dict[int, Recovery] = {}
        if ruleset.recovery:
            seconds = sorted({s for rule in ruleset.recovery for s in self.rule_series(rule).seconds.tolist()})
            # A compound fault recovers only once its last overlapping fault is removed.
            self.recoveries = {id(w): measure_recovery(data, replace(w, remove_ts=cleared_ts(self.windows, w)), self.second_ok,
                                                       seconds, ruleset.recovery_window_s)
                               for w in self.windows}

    def names(self, rule: Rule) -> frozenset:
        return frozenset(select(rule.requests, self.data.names, self.groups))

    def rule_series(self, rule: Rule) -> Series:
        return self.data.series(rule_key(rule))

    def group(self, rule: Rule) -> Group:
        return Group.selecting(rule.requests, self.groups)

    # -- windows -------------------------------------------------------------------------------
    def excluded(self, window: FaultWindow) -> tuple[float, float]:
        """The span a fault and its recovery period take out of the steady windows."""
        recovery = self.recoveries.get(id(window))
        if recovery is None:  # no recovery rules: the fault plus its recovery target
            end = (window.remove_ts + recovery_target_s(self.data, window) if window.remove_ts is not None
                   else self.data.last_data_ts + 1)
        else:
            end = recovery.recovered_ts if recovery.recovered else self.data.last_data_ts + 1
        return window.inject_ts, max(end, window.end_ts(self.data.last_data_ts))

    def seconds(self, window: str) -> list[int]:
        if window == "whole":
            return self.measured
        if window == "steady":
            spans = [self.excluded(w) for w in self.windows]
            return [s for s in self.measured if not any(overlaps(s, a, b) for a, b in spans)]
        if window.startswith("stage:"):
            name = window[len("stage:"):]
            return [s for s in self.everything.seconds.tolist() if (stage := stage_at(self.data, s)) and stage.name == name]
        name = window[len("during:"):]
        spans = [(w.inject_ts, w.end_ts(self.data.last_data_ts)) for w in self.windows if self._is(w, name)]
        return [s for s in self.everything.seconds.tolist() if any(overlaps(s, a, b) for a, b in spans)]

    def _is(self, window: FaultWindow, name: str) -> bool:
        entry = timeline_entry(self.data, window.experiment)
        return name in (window.fault, window.fault_id, window.experiment) or (
            entry is not None and entry is timeline_entry(self.data, name))

    def latency_bounds(self) -> list[dict]:
        """The latency chart's lines: the bound (ms) and a label of each latency rule over requests the chart
        shows (the run's, without pseudo-endpoints); one line per bound."""
        charted, bounds = self.data.groups[CHARTED], {}
        for rule in self.ruleset.rules:
            if rule.metric.kind == LATENCY and any(charted.matches(name) for name in self.names(rule)):
                label = rule.title if rule.bound.text in rule.title else f"{rule.title}: {rule.metric.text} {rule.bound.text}"
                bounds.setdefault(rule.bound.value, label)
        return [{"ms": ms, "label": label} for ms, label in bounds.items()]

    # -- judging -------------------------------------------------------------------------------
    def detail(self, rule: Rule, bucket: Bucket, seconds: int) -> str:
        if rule.metric.kind in (ERROR_RATIO, SUCCESS_RATIO):
            return f"{bucket.count - bucket.failures} of {bucket.count} succeeded ({bucket.failures} failed)"
        if rule.metric.kind == RPS:
            return f"{bucket.count} requests over {seconds} s"
        return (f"{bucket.count} requests over {seconds} s; p50 {bucket.percentile_ms(50):.1f} ms, "
                f"max {bucket.max_ms():.1f} ms")

    def windows_needed(self) -> dict[str, Window]:
        """The merged histograms the scored rules need: pass them to ``data.merged`` (with others)."""
        return {f"rule{index}": Window.of(self.group(rule), self.seconds(rule.window))
                for index, rule in enumerate(self.ruleset.scored) if not rule.metric.integrity}

    def verdict(self, rule: Rule, bucket: Bucket) -> Verdict:
        target, unit, op = _display(rule, rule.bound.value), rule.bound.unit, rule.bound.op
        seconds = self.seconds(rule.window)
        span = describe_seconds(self.data, seconds)

        def missing(why: str) -> Verdict:
            return Verdict(rule.id, rule.title, INCONCLUSIVE, None, target, unit, op, span, why, "no data")

        names = self.names(rule)
        if not names:
            return missing(f"no request matching {', '.join(rule.requests)} was recorded in this run: "
                           f"the rule's requests never happened")
        if not bucket.count:
            return missing(f"no {rule.window} seconds" if not seconds else
                           f"no requests matching {', '.join(rule.requests)} in the {rule.window} window")
        measured = _display(rule, measure(rule.metric, bucket, len(seconds)))
        # Judged as shown: the rounded figure against the bound in the same unit.
        verdict = PASS if holds(op, measured, target) else FAIL
        return Verdict(rule.id, rule.title, verdict, measured, target, unit, op, span,
                       self.detail(rule, bucket, len(seconds)), _text(measured, unit))

    def second_value(self, rule: Rule, series: Series, row: int) -> float:
        """The rule's metric in one second, read off its per-second series (as :func:`measure` reads a bucket)."""
        kind, count, failures = rule.metric.kind, int(series.count[row]), int(series.failures[row])
        if kind == LATENCY:
            return float(series.max[row] if rule.metric.percentile is None else series.p(rule.metric.percentile)[row])
        if kind == ERROR_RATIO:
            return failures / count
        if kind == SUCCESS_RATIO:
            return (count - failures) / count
        return float(count)

    def second_ok(self, second: int) -> bool | None:
        values = []
        for rule in self.ruleset.recovery:
            series = self.rule_series(rule)
            row = series.row(second)
            if row is None or series.count[row] == 0:
                return None
            values.append(holds(rule.bound.op, self.second_value(rule, series, row), rule.bound.value))
        return all(values)

    def recovery(self, window: FaultWindow) -> Verdict:
        recovery = self.recoveries[id(window)]
        target = recovery_target_s(self.data, window)
        sustained = self.ruleset.recovery_window_s
        title = f"Recovery after {window.fault or window.fault_id}"
        cleared = cleared_ts(self.windows, window)
        t_from = cleared if cleared is not None else window.inject_ts
        span = f"from t={self.data.t(t_from):.0f}s"
        vid = f"recovery:{window.fault_id}"

        def judged(verdict: str, detail: str, measured: float | None = None) -> Verdict:
            return Verdict(vid, title, verdict, measured, target, "s", "<=", span, detail, recovery.text())

        first = self.ruleset.recovery[0]
        if not len(self.rule_series(first)):
            return Verdict(vid, title, INCONCLUSIVE, None, target, "s", "<=", span,
                           f"no {', '.join(first.requests)} data to judge recovery by", "no data")
        if not recovery.removed:
            return judged(INCONCLUSIVE, "no fault_removed event: the fault lasted until the end of the data")
        needed = target + sustained
        if not recovery.recovered and recovery.searched_s < needed:
            return judged(INCONCLUSIVE, f"the data ends {recovery.searched_s:.0f} s after removal; judging recovery "
                                        f"needs {needed:g} s (target + sustained window)")
        if not recovery.recovered:
            return judged(FAIL, f"SLOs never held for {sustained:g} s in a row after removal")
        return judged(PASS if recovery.recovery_s <= target else FAIL,
                      f"SLOs held for {sustained:g} s from t={self.data.t(recovery.recovered_ts):.0f}s "
                      f"(removed by {window.removed_by or '?'}{self._overlap_note(window)})", recovery.recovery_s)

    def _overlap_note(self, window: FaultWindow) -> str:
        others = overlapping(self.windows, window, self.data.last_data_ts)
        if not others:
            return ""
        return "; overlapped " + ", ".join(w.fault or w.fault_id for w in others) + ", measured after the last one ended"

    def verdicts(self, merged: Mapping[str, Bucket]) -> list[Verdict]:
        """``merged``: ``data.merged`` of at least :meth:`windows_needed`."""
        result = [integrity_verdict(rule, self.reconciliation) if rule.metric.integrity
                  else self.verdict(rule, merged[f"rule{index}"]) for index, rule in enumerate(self.ruleset.scored)]
        if self.ruleset.recovery:
            result.extend(self.recovery(w) for w in self.windows)
        return result
