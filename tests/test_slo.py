"""The SLO rule language: parsing, bad rules (exit 2 naming the file and the rule), the reference-shop
preset reproducing the shop's verdicts, windows, "never happened" and "no SLO set"."""

from __future__ import annotations

import json
import math

import pytest

from loadkit import peakdrill, write_profile
from peakdrill.errors import SpecError
from peakdrill.report import score_run_dir
from peakdrill.report.rundata import load_run
from peakdrill.report.score import score_run
from peakdrill.slo.parse import from_command_line, parse_section, parse_threshold
from peakdrill.slo.presets import preset
from runfactory import CACHE_READ, ORDER, PAY, make_run

REFERENCE_MAP = "loadtests/targets/reference-shop.yaml"


def _oracle_percentile(values: list[float], percentile: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percentile / 100 * len(ordered)) - 1)]


def test_threshold_flags_parse_like_k6():
    rule = parse_threshold("GET /api/products/[id]: p99 < 50ms")
    assert (rule.requests, rule.metric.text, rule.bound.op, rule.bound.value, rule.window) == (
        ("GET /api/products/[id]",), "p99", "<", 50.0, "steady")
    rule = parse_threshold("group:order: success_ratio >= 98% in stage:peak")
    assert (rule.requests, rule.bound.value, rule.window) == (("group:order",), 0.98, "stage:peak")
    assert parse_threshold("*: p99.9 <= 2s").bound.value == 2000.0
    assert parse_threshold("GET /item: rps >= 100/s").metric.kind == "rps"


@pytest.mark.parametrize("rule, problem", [
    ({"requests": "GET /x", "metric": "p101", "bound": "< 5ms"}, "unknown metric"),
    ({"requests": "GET /x", "metric": "latency_avg", "bound": "< 5ms"}, "unknown metric"),
    ({"requests": "GET /x", "metric": "p99", "bound": "< 5%"}, "wrong unit"),
    ({"requests": "GET /x", "metric": "error_ratio", "bound": "< 5ms"}, "wrong unit"),
    ({"requests": "GET /x", "metric": "rps", "bound": ">= 5"}, "wrong unit"),
    ({"requests": "GET /x", "metric": "p99", "bound": "< 5 parsecs"}, "unknown unit"),
    ({"requests": "GET /x", "metric": "p99", "bound": "< 5ms", "window": "sometimes"}, "unknown window"),
    ({"requests": "GET /x", "metric": "p99"}, "'bound' is missing"),
])
def test_bad_rules_name_the_file_and_the_rule(rule, problem):
    with pytest.raises(SpecError) as caught:
        parse_section({"rules": [{"name": "checkout p99", **rule}]}, "perf/slo.yaml")
    message = str(caught.value)
    assert message.startswith("perf/slo.yaml: rules[0] (checkout p99)") and problem in message, message


def _bad_rule_file(tmp_path, rule: str):
    path = tmp_path / "slo.yaml"
    path.write_text(f"rules:\n  - {rule}\n")
    return path


@pytest.mark.parametrize("rule, problem", [
    ("{name: product p99, requests: 'GET /api/produkts/*', metric: p99, bound: < 50ms}", "matches nothing in the endpoint map"),
    ("{name: product p99, requests: 'GET /api/products/*', metric: p99.5x, bound: < 50ms}", "unknown metric"),
    ("{name: product p99, requests: 'GET /api/products/*', metric: p99, bound: < 50%}", "wrong unit"),
    ("{name: product p99, requests: 'group:checkout', metric: p99, bound: < 50ms}", "unknown group"),
])
def test_bad_rule_files_exit_2_before_any_load(tmp_path, rule, problem):
    """Checked against the target's endpoint map before a request is sent (nothing listens on port 9)."""
    path = _bad_rule_file(tmp_path, rule)
    result = peakdrill("load", write_profile(tmp_path, 1, 5), "--host", "http://127.0.0.1:9", "--endpoints",
                       REFERENCE_MAP, "--slo", str(path), "--reports-dir", str(tmp_path / "reports"), timeout=60)
    assert result.returncode == 2, result.stderr
    assert str(path) in result.stderr and "rules[0] (product p99)" in result.stderr and problem in result.stderr
    assert not (tmp_path / "reports").exists()


def test_report_with_a_bad_threshold_exits_2(tmp_path):
    run = make_run(tmp_path)
    result = peakdrill("report", str(run.path), "--threshold", "GET /api/products/[id]: p99 < 50 furlongs", timeout=60)
    assert result.returncode == 2 and "--threshold" in result.stderr and "unknown unit" in result.stderr


def test_the_preset_reproduces_the_shop_verdicts(tmp_path):
    """A run recorded with the rules in run.json scores exactly as one recorded with the old fixed targets."""
    legacy = make_run(tmp_path / "legacy")
    ruled = make_run(tmp_path / "ruled")
    meta = json.loads((ruled.path / "run.json").read_text())
    meta["slo_rules"] = preset("reference-shop").to_dict()
    (ruled.path / "run.json").write_text(json.dumps(meta))
    before, after = score_run_dir(legacy.path).to_dict(), score_run_dir(ruled.path).to_dict()
    assert after["verdicts"] == before["verdicts"] and after["verdict"] == before["verdict"] == "PASS"
    # ...and the figures are the raw samples' own (an oracle that is not the histogram code).
    cache = after["verdicts"][0]
    steady = [s for s in range(int(legacy.spec.start_ts) + 20, int(legacy.spec.start_ts) + 120)
              if not int(legacy.spec.start_ts) + 45 <= s < int(legacy.spec.start_ts) + 80]
    assert cache["measured"] == pytest.approx(_oracle_percentile(legacy.latencies(CACHE_READ, steady), 99), rel=0.002)


def test_rules_select_by_glob_and_group_over_stage_and_fault_windows(tmp_path):
    run = make_run(tmp_path)
    start = int(run.spec.start_ts)
    rules = parse_section({"groups": {"orders": [ORDER, PAY]}, "rules": [
        {"name": "products during the outage", "requests": "GET /api/products/*", "metric": "p50", "bound": "< 50ms",
         "window": "during:cache-outage"},
        {"name": "orders in warm-up", "requests": "group:orders", "metric": "rps", "bound": ">= 1/s", "window": "stage:warm-up"},
        {"name": "no such requests", "requests": "GET /nowhere/*", "metric": "p99", "bound": "< 5s"},
    ]}, "slo.yaml")
    score = score_run(load_run(run.path), rules)
    during, warmup, never = score.verdicts
    inject, removed = run.spec.start_ts + 45, run.spec.start_ts + 75
    fault_seconds = [s for s in range(start, start + 130) if s < removed and s + 1 > inject]  # overlapping seconds
    assert during.verdict == "FAIL" and during.measured == pytest.approx(
        _oracle_percentile(run.latencies(CACHE_READ, fault_seconds), 50), rel=0.002)
    warm = [s for s in range(start - 1, start + 25) if run.spec.start_ts <= s + 0.5 < run.spec.start_ts + 20]  # midpoints
    expected_rps = (len(run.latencies(ORDER, warm)) + len(run.latencies(PAY, warm))) / len(warm)
    assert warmup.verdict == "PASS" and warmup.measured == pytest.approx(expected_rps, abs=0.01)
    assert never.verdict == "INCONCLUSIVE" and "never happened" in never.detail
    assert score.verdict == "INCONCLUSIVE" and any("never happened" in r for r in score.reasons)


def test_a_run_without_rules_says_no_slo_set(tmp_path):
    run = make_run(tmp_path)
    score = score_run(load_run(run.path), from_command_line(None, None) or parse_section({"rules": []}, "x"))
    assert score.verdict == "INCONCLUSIVE" and score.reasons[0].startswith("no SLO set")
    assert not any("cache" in r.lower() for r in score.reasons)


def test_abort_rules_judge_the_last_seconds_of_the_selected_requests(tmp_path):
    """What the drill watcher checks every second: each abort rule over its own sustained window."""
    from peakdrill import events
    from peakdrill.run.watch import Clock, DrillWatcher, breach
    from peakdrill.spec.drill import Abort, abort_rules

    run = make_run(tmp_path, recovery_lag_s=None)  # reads stay slow to the end
    rules = abort_rules(Abort(p95_ms=60, sustained=5)) + parse_section({"rules": [
        {"name": "orders fail", "requests": "group:order", "metric": "error_ratio", "bound": "< 50%", "abort": True}]},
        "slo.yaml").aborts
    groups = {"order": [ORDER, PAY]}
    watcher = DrillWatcher(run.path, Clock(run.spec.start_ts, run.spec.start_ts, ()), rules, groups,
                           events.EventBus(), lambda _: "", show_progress=False)
    watcher.live.poll()
    error_ratio, p95, orders = (breach(watcher.live, rule, groups) for rule in rules)
    assert error_ratio == "" and orders == ""
    assert p95.startswith("abort: p95: p95 ") and "over the last 5s breaks < 60ms" in p95
