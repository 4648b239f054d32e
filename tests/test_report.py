"""`peakdrill report`: verdicts, totals, exact percentiles, outputs and input errors."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from peakdrill.cli import main
from peakdrill.errors import RunDirError
from peakdrill.report import build_report, report_files, score_run_dir
from peakdrill.slo.parse import from_command_line
from oracle import assert_percentile
from runfactory import CACHE_READ, CS, ORDER, PAY, make_run


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """Run `peakdrill report ...` through the real entry point; its exit code, stdout and stderr."""
    capsys.readouterr()  # only what this command prints
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def verdicts(score) -> dict:
    return {v.id: v for v in score.verdicts}


def test_pass_case_writes_all_outputs(tmp_path, capsys):
    run = make_run(tmp_path)
    code, out, _ = run_cli(["report", str(run.path)], capsys)
    assert code == 0
    assert "report: " in out and "report.html" in out and "PASS" in out
    for name in ("score.json", "report.html", "report.md", "junit.xml"):
        assert (run.path / name).is_file(), name
    score = json.loads((run.path / "score.json").read_text())
    assert score["verdict"] == "PASS" and score["exit_code"] == 0 and score["status"] == "completed"
    ids = [v["id"] for v in score["verdicts"]]
    assert ids == ["cache_read_p99", "order_success_rate", "cs_first_response", "recovery:cache-outage-1"]
    assert all(v["verdict"] == "PASS" for v in score["verdicts"])
    cache = score["verdicts"][0]
    assert cache["measured"] < 15 and cache["target"] == 50 and cache["unit"] == "ms"
    # steady windows: measured stage (t>=20) minus the fault 45-75 and its ~5 s recovery
    assert cache["window"] == "t=20-45s, t=80-120s"
    fault = score["faults"][0]
    assert fault["cache_p99_during_ms"] > 50  # the outage effect is shown, not scored


def test_fail_case(tmp_path, capsys):
    run = make_run(tmp_path, normal_cache_ms=60.0, order_failure_rate=0.05)
    code, out, _ = run_cli(["report", str(run.path)], capsys)
    assert code == 1
    score = score_run_dir(run.path)
    assert score.verdict == "FAIL"
    by_id = verdicts(score)
    assert by_id["cache_read_p99"].verdict == "FAIL" and by_id["cache_read_p99"].measured > 50
    assert by_id["order_success_rate"].verdict == "FAIL"
    # one order in 20 fails, payments do not: 97.5% of order + payment attempts succeed
    assert by_id["order_success_rate"].measured == pytest.approx(97.5, abs=0.3)
    assert any("Order success rate" in r for r in score.reasons)


@pytest.mark.parametrize("lag", [0.0, 7.0, 12.5])
def test_recovery_time_is_measured_within_one_second(tmp_path, lag):
    run = make_run(tmp_path, recovery_lag_s=lag, fault=(45.0, 70.3))
    recovery = verdicts(score_run_dir(run.path))["recovery:cache-outage-1"]
    assert recovery.verdict == "PASS"
    assert recovery.measured == pytest.approx(lag, abs=1.0)


def test_recovery_slower_than_target_fails(tmp_path):
    run = make_run(tmp_path, recovery_lag_s=20.0, recovery_target_s=15.0)
    recovery = verdicts(score_run_dir(run.path))["recovery:cache-outage-1"]
    assert recovery.verdict == "FAIL" and recovery.measured == pytest.approx(20.0, abs=1.0)


def test_never_recovered_fails(tmp_path, capsys):
    run = make_run(tmp_path, recovery_lag_s=None)
    code, _, _ = run_cli(["report", str(run.path)], capsys)
    assert code == 1
    score = score_run_dir(run.path)
    recovery = verdicts(score)["recovery:cache-outage-1"]
    assert recovery.verdict == "FAIL" and recovery.measured is None
    assert recovery.measured_text == "not recovered within 45 s"
    # never recovered: everything after the fault is out of the steady windows
    assert verdicts(score)["cache_read_p99"].window == "t=20-45s"


def test_saturated_generator_is_inconclusive(tmp_path, capsys):
    run = make_run(tmp_path, saturated=(1, 30, 40))
    code, out, _ = run_cli(["report", str(run.path)], capsys)
    assert code == 3
    score = json.loads((run.path / "score.json").read_text())
    assert score["verdict"] == "INCONCLUSIVE" and score["exit_code"] == 3
    reason = score["reasons"][0]
    assert "worker-2-41002" in reason and "t=30-40s" in reason and "10 s" in reason


@pytest.mark.parametrize("saturated", [(0, 5, 15), (0, 30, 32)], ids=["warm-up-only", "two-seconds"])
def test_saturation_outside_measured_or_brief_is_ignored(tmp_path, saturated):
    run = make_run(tmp_path, saturated=saturated)
    assert score_run_dir(run.path).verdict == "PASS"


def test_interrupted_run_is_inconclusive_and_marked(tmp_path, capsys):
    run = make_run(tmp_path, status="interrupted", stop_at=63.0)
    code, _, _ = run_cli(["report", str(run.path)], capsys)
    assert code == 3
    score = score_run_dir(run.path)
    assert score.verdict == "INCONCLUSIVE" and score.interrupted
    assert score.reasons[0] == "run interrupted at t=63s: data up to then kept"
    # verdicts are still computed from the data the run left
    by_id = verdicts(score)
    assert by_id["cache_read_p99"].verdict == "PASS" and by_id["cache_read_p99"].window == "t=20-45s"
    assert by_id["order_success_rate"].measured is not None
    html = (run.path / "report.html").read_text()
    assert 'id="interrupted-notice"' in html and "status: interrupted" in html
    assert "did not complete" in (run.path / "report.md").read_text()


def test_crashed_run_with_torn_line_keeps_its_data(tmp_path):
    run = make_run(tmp_path, status="running", stop_at=50.0, torn_last_line=True)
    score = build_report(run.path)
    assert score.verdict == "INCONCLUSIVE"
    assert "crashed" in score.reasons[0] and "t=50s" in score.reasons[0]
    assert any("torn last line" in w for w in score.warnings)
    assert score.totals["requests"] == run.record_count


def test_totals_equal_sum_of_raw_record_counts(tmp_path):
    run = make_run(tmp_path)
    raw_count = raw_failures = 0
    for path in (run.path / "histograms").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            raw_count += record["count"]
            raw_failures += record["failures"]
    score = score_run_dir(run.path)
    assert score.totals["requests"] == raw_count == run.record_count
    assert score.totals["failures"] == raw_failures
    assert score.totals["duration_s"] == 120.0
    assert sum(e.count for e in score.endpoints) == raw_count


def test_percentiles_come_from_merged_histograms(tmp_path):
    run = make_run(tmp_path, fault=None)
    score = score_run_dir(run.path)
    stats = {e.name: e for e in score.endpoints}
    for name in (CACHE_READ, ORDER, PAY, CS):
        samples = run.latencies(name)
        assert stats[name].count == len(samples)
        for pct, got in ((50, stats[name].p50_ms), (95, stats[name].p95_ms), (99, stats[name].p99_ms)):
            assert_percentile(got, samples, pct, name, rounded_to_ms=0.001)
    # the cache-read verdict over the measured seconds (t >= 20) against one histogram of those samples
    start = run.spec.start_ts
    steady = {s for (s, _) in run.samples if s + 0.5 - start >= 20}
    cache = verdicts(score)["cache_read_p99"]
    assert_percentile(cache.measured, run.latencies(CACHE_READ, steady), 99, "cache-read verdict", rounded_to_ms=0.01)
    assert cache.window == "t=20-120s"


def test_missing_run_json_exits_2_naming_the_file(tmp_path, capsys):
    (tmp_path / "empty-run").mkdir()
    code, _, err = run_cli(["report", str(tmp_path / "empty-run")], capsys)
    assert code == 2
    assert str(tmp_path / "empty-run" / "run.json") in err and "reports/<run-id>" in err
    code, _, err = run_cli(["report", str(tmp_path / "no-such-dir")], capsys)
    assert code == 2 and "no-such-dir" in err and "not a directory" in err


def test_corrupt_run_json_and_bad_histogram_line(tmp_path):
    run = make_run(tmp_path)
    hist = sorted((run.path / "histograms").glob("*.jsonl"))[0]
    lines = hist.read_text().splitlines()
    lines[3] = "{oops"
    hist.write_text("\n".join(lines) + "\n")
    with pytest.raises(RunDirError, match=rf"{hist.name}:4"):
        score_run_dir(run.path)
    (run.path / "run.json").write_text("{not json")
    with pytest.raises(RunDirError, match="run.json: not valid JSON"):
        score_run_dir(run.path)


def test_junit_parses_with_one_case_per_verdict(tmp_path):
    run = make_run(tmp_path, recovery_lag_s=None)
    run_json = json.loads((run.path / "run.json").read_text())
    run_json["endpoints"]["cs_first_response"] = ["CS missing"]
    (run.path / "run.json").write_text(json.dumps(run_json))
    score = build_report(run.path)
    files = report_files(run.path)
    root = ET.parse(files.junit).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    assert len(suites) == 1
    suite = suites[0]
    assert suite.get("name") == f"peakdrill.{run.spec.run_id}"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [v.id for v in score.verdicts]
    assert int(suite.get("tests")) == len(cases)
    by_name = {c.get("name"): c for c in cases}
    assert by_name["recovery:cache-outage-1"].find("failure").get("message")
    assert by_name["cs_first_response"].find("skipped") is not None
    assert by_name["cache_read_p99"].find("failure") is None and by_name["cache_read_p99"].find("skipped") is None
    assert int(suite.get("failures")) == 1 and int(suite.get("skipped")) == 1
    assert score.verdict == "INCONCLUSIVE" and score.exit_code == 3  # a verdict lacked data


def test_junit_marks_untrusted_run_even_when_verdicts_pass(tmp_path):
    run = make_run(tmp_path, saturated=(0, 30, 40))
    build_report(run.path)
    files = report_files(run.path)
    suite = ET.parse(files.junit).getroot().find("testsuite")
    skipped = [c for c in suite.findall("testcase") if c.find("skipped") is not None]
    assert [c.get("name") for c in skipped] == ["measurement_trusted"]


def test_html_is_self_contained_and_embeds_chart_data(tmp_path):
    run = make_run(tmp_path)
    build_report(run.path)
    files = report_files(run.path)
    html = files.html.read_text()
    assert "<script src" not in html and "<link" not in html and "@import" not in html
    assert "cdn" not in html.lower()
    for chart in ("latency", "throughput", "server_cache"):
        assert f'data-chart="{chart}"' in html
    payload = html.split('<script type="application/json" id="peakdrill-data">', 1)[1].split("</script>", 1)[0]
    data = json.loads(payload)
    assert len(data["series"]["t"]) == 120 and data["faults"][0]["start_t"] == 45.0
    assert data["server_cache"]["failed_scrapes"] == 1
    markdown = files.markdown.read_text()
    assert "| Verdict | Check | Measured | Target | Window |" in markdown
    assert CACHE_READ in markdown and "PASS" in markdown



def _page_data(run_dir) -> dict:
    html = report_files(run_dir).html.read_text()
    return json.loads(html.split('<script type="application/json" id="peakdrill-data">', 1)[1].split("</script>", 1)[0])


def test_latency_chart_draws_the_bounds_of_the_latency_rules_that_apply(tmp_path):
    run = make_run(tmp_path)
    build_report(run.path)  # the reference shop's preset: one latency rule, on cache-backed reads
    assert [b["ms"] for b in _page_data(run.path)["latency_bounds"]] == [50.0]
    rules = from_command_line(None, [f"{ORDER}: p95 < 0.3s", "GET /never/recorded: p99 < 1s", "*: error_ratio < 1%",
                                     "*: max <= 2000ms"])
    build_report(run.path, rules=rules)
    assert _page_data(run.path)["latency_bounds"] == [{"ms": 300.0, "label": f"{ORDER}: p95 < 0.3s"},
                                                      {"ms": 2000.0, "label": "*: max <= 2000ms"}]
    build_report(run.path, rules=from_command_line(None, ["*: error_ratio < 1%"]))
    assert _page_data(run.path)["latency_bounds"] == []

def test_report_without_optional_files(tmp_path):
    run = make_run(tmp_path, server_metrics=False, fault=None)
    for name in ("generator.jsonl", "events.jsonl"):
        (run.path / name).unlink()
    for path in (run.path / "journals").iterdir():
        path.unlink()
    score = build_report(run.path)
    files = report_files(run.path)
    assert score.verdict == "PASS"  # no faults, nothing saturated as far as we know
    assert [v.id for v in score.verdicts] == ["cache_read_p99", "order_success_rate", "cs_first_response"]
    html = files.html.read_text()
    assert 'data-chart="server_cache"' not in html and "No experiment journals" in html


def test_output_dir_and_template_override(tmp_path, capsys):
    run = make_run(tmp_path)
    template = tmp_path / "mine.html.j2"
    template.write_text("<html><body>{{ score.verdict }} for {{ info.run_id }}</body></html>")
    out = tmp_path / "out"
    code, stdout, _ = run_cli(["report", str(run.path), "--output-dir", str(out), "--template", str(template)],
                              capsys)
    assert code == 0 and str(out / "report.html") in stdout
    assert (out / "report.html").read_text() == f"<html><body>PASS for {run.spec.run_id}</body></html>"
    assert not (run.path / "report.html").exists()
    code, _, err = run_cli(["report", str(run.path), "--template", str(tmp_path / "nope.j2")], capsys)
    assert code == 2 and "nope.j2" in err


def test_recovery_cut_short_by_the_end_of_data_is_inconclusive(tmp_path):
    run = make_run(tmp_path, status="interrupted", stop_at=63.0, fault=(45.0, 80.0))
    recovery = verdicts(score_run_dir(run.path))["recovery:cache-outage-1"]
    assert recovery.verdict == "INCONCLUSIVE"
    assert recovery.measured_text == "not recovered within 0 s" and "data ends 0 s after removal" in recovery.detail


def test_run_with_only_run_json_is_inconclusive_and_still_renders(tmp_path, capsys):
    run = make_run(tmp_path)
    for path in sorted(run.path.rglob("*"), reverse=True):
        if path.name != "run.json":
            path.rmdir() if path.is_dir() else path.unlink()
    code, out, _ = run_cli(["report", str(run.path)], capsys)
    assert code == 3
    score = json.loads((run.path / "score.json").read_text())
    assert score["totals"]["requests"] == 0
    assert all(v["verdict"] == "INCONCLUSIVE" for v in score["verdicts"])
    assert "No histogram data" in (run.path / "report.html").read_text()
    ET.parse(run.path / "junit.xml")
