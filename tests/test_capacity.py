"""Capacity search: against a server of known capacity (K slots x service time S), the knee lands
within 15% of K/S; and the headroom verdict says only what the search's bounds support."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from knob_server import knob_server, set_knob
from loadkit import LOCUSTFILE, OPEN_LOCUSTFILE, finish, peakdrill, start_peakdrill
from peakdrill.histograms import Bucket
from peakdrill.load.capacity_rules import judge_rules, step_rules
from peakdrill.rundir.histfiles import iter_records
from peakdrill.report.capacity import headroom_verdict, parse_capacity
from peakdrill.slo.parse import from_command_line
from targets import slot_server

PLAIN_LOCUSTFILE = str(Path(__file__).resolve().parent / "plain_locustfile.py")

def write_steps_profile(tmp_path: Path) -> str:
    path = tmp_path / "steps.yaml"
    path.write_text("name: steps\nstages:\n  - {name: steady, duration: 10s, users: 40}\n")
    return str(path)


@pytest.mark.slow
def test_capacity_search_finds_k_over_s_and_scores_the_headroom(tmp_path):
    reports = tmp_path / "reports"
    # 4 slots x 50 ms: 80 requests/s. Each user sends one request a second, so users = offered req/s.
    with slot_server(slots=4, service_s=0.05) as target:
        result = peakdrill("capacity", write_steps_profile(tmp_path), "--host", target.url, "--locustfile", LOCUSTFILE,
                           "--start-users", "64", "--step-users", "8", "--max-users", "128", "--step-duration", "6s",
                           "--p95-ms", "200", "--forecast-rps", "50", "--reports-dir", str(reports), "--no-progress")
        capacity_rps = target.capacity_rps
    output = result.stdout[-4000:] + result.stderr[-3000:]
    (run_dir,) = reports.iterdir()
    capacity = json.loads((run_dir / "capacity.json").read_text())
    knee, broke = capacity["knee"], capacity["broke_at"]
    assert knee and broke, output
    assert abs(knee["rps"] - capacity_rps) <= 0.15 * capacity_rps, output
    assert broke["users"] > knee["users"] and broke["p95_ms"] > 200 and broke == capacity["steps"][-1]
    assert all(step["held"] for step in capacity["steps"][:-1])

    # The search stopped soon after the step that broke instead of running all 9 steps.
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["kind"] == "capacity" and meta["status"] == "completed"
    last_second = max(record.second for record in iter_records(run_dir))
    assert last_second < meta["start_ts"] + broke["end_s"] + 2 * 6 + 5, output
    assert "ending the load early" in result.stdout

    score = json.loads((run_dir / "score.json").read_text())
    verdict = next(v for v in score["verdicts"] if v["id"] == "capacity_headroom")
    assert verdict["measured"] == round((knee["rps"] / 50 - 1) * 100, 1)
    assert (verdict["verdict"], score["verdict"], result.returncode) == ("PASS", "PASS", 0), output
    assert "held (knee)" in (run_dir / "report.md").read_text()
    assert 'id="capacity"' in (run_dir / "report.html").read_text()


def _step(step: int, rps: float, held: bool | None, orders: float = 0.0) -> dict:
    return {"step": step, "users": step * 10, "rps": rps, "orders_per_s": orders, "p95_ms": 80.0 if held else 900.0,
            "error_ratio": 0.0, "held": held, "why": "" if held else "p95 900 ms > 500 ms"}


def _capacity(steps: list[dict], rps: float | None = 100.0, orders: float | None = None) -> dict:
    knee = None
    for step in steps:
        if not step["held"]:
            break
        knee = step
    broke = steps[-1] if steps and steps[-1]["held"] is False else None
    return {"steps": steps, "knee": knee, "broke_at": broke, "headroom_target": 0.3,
            "slo": {"p95_ms": 500, "error_ratio": 0.01}, "forecast": {"rps": rps, "orders_per_s": orders, "scale": 1.0}}


@pytest.mark.parametrize(("steps", "forecast_rps", "expected", "measured"), [
    ([_step(1, 100, True), _step(2, 140, True), _step(3, 150, False)], 100, "PASS", 40.0),
    ([_step(1, 100, True), _step(2, 120, True), _step(3, 150, False)], 100, "FAIL", 20.0),
    # Never broke: capacity is at least the last step, which is enough for PASS, not for FAIL.
    ([_step(1, 100, True), _step(2, 135, True)], 100, "PASS", 35.0),
    ([_step(1, 100, True), _step(2, 110, True)], 100, "INCONCLUSIVE", 10.0),
    # The first step broke: capacity is below it, which is enough for FAIL, not for PASS.
    ([_step(1, 110, False)], 100, "FAIL", 10.0),
    ([_step(1, 200, False)], 100, "INCONCLUSIVE", 100.0),
    ([_step(1, 100, True), _step(2, 150, False)], None, "INCONCLUSIVE", None),
])
def test_headroom_verdict_says_only_what_the_search_bounds(steps, forecast_rps, expected, measured):
    verdict = headroom_verdict(parse_capacity(_capacity(steps, rps=forecast_rps), "capacity.json"))
    assert (verdict.verdict, verdict.measured) == (expected, measured), verdict.detail


def test_orders_forecast_is_compared_in_orders_and_needs_orders_measured():
    with_orders = _capacity([_step(1, 100, True, orders=2.6), _step(2, 150, False, orders=3.0)], rps=None, orders=2.0)
    verdict = headroom_verdict(parse_capacity(with_orders, "capacity.json"))
    assert (verdict.verdict, verdict.measured) == ("PASS", 30.0) and "orders/s" in verdict.detail
    without = _capacity([_step(1, 100, True), _step(2, 150, False)], rps=None, orders=2.0)
    assert headroom_verdict(parse_capacity(without, "capacity.json")).verdict == "INCONCLUSIVE"


@pytest.mark.parametrize(("args", "quoted"), [
    (["--start-users", "10", "--step-users", "0"], "argument --step-users: '0' is out of range"),
    (["--max-users", "5", "--start-users", "10"], "--max-users: 5 is below --start-users 10"),
    (["--step-duration", "soon"], "--step-duration"),
    (["--start-rate", "5"], "a closed-model profile steps users, not req/s (fix: use --start-users"),
    (["--host", "http://203.0.113.7:8800"], "refusing to send load"),
])
def test_bad_search_options_are_refused_before_any_load(tmp_path, args, quoted):
    base = ["capacity", write_steps_profile(tmp_path), "--locustfile", LOCUSTFILE, "--reports-dir", str(tmp_path / "r")]
    if "--host" not in args:
        base += ["--host", "http://127.0.0.1:9"]
    result = peakdrill(*base, *args, timeout=60)
    assert result.returncode == 2 and quoted in result.stderr, result.stderr
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_open_model_search_steps_the_arrival_rate_and_finds_k_over_s(tmp_path):
    profile = tmp_path / "open.yaml"
    profile.write_text("name: open-steps\nmodel: open\nstages:\n  - {name: steady, duration: 10s, users: 40, arrival_rate: 40}\n")
    reports = tmp_path / "reports"
    with slot_server(slots=4, service_s=0.05) as target:
        result = peakdrill("capacity", str(profile), "--host", target.url, "--locustfile", OPEN_LOCUSTFILE,
                           "--start-rate", "64", "--step-rate", "8", "--max-rate", "128", "--pool-users", "60",
                           "--step-duration", "6s", "--p95-ms", "200", "--forecast-rps", "50",
                           "--reports-dir", str(reports), "--no-progress")
        capacity_rps = target.capacity_rps
    output = result.stdout[-4000:] + result.stderr[-3000:]
    (run_dir,) = reports.iterdir()
    capacity = json.loads((run_dir / "capacity.json").read_text())
    knee, broke = capacity["knee"], capacity["broke_at"]
    assert knee and broke and broke["offered_rps"] > knee["offered_rps"], output
    assert [step["offered_rps"] for step in capacity["steps"]] == [64 + 8 * i for i in range(len(capacity["steps"]))]
    assert abs(knee["rps"] - capacity_rps) <= 0.15 * capacity_rps, output
    assert result.returncode == 0, output  # PASS, and the generator kept up with every judged step


def _bucket(latency_ms: float, count: int = 20, failures: int = 0) -> Bucket:
    bucket = Bucket()
    for index in range(count):
        bucket.record(latency_ms, index < failures)
    return bucket


def test_step_rules_are_the_given_rules_plus_the_shorthands():
    assert [r.title for r in step_rules(None, None, None).rules] == ["*: p95 <= 500ms", "*: error_ratio <= 1%"]
    given = from_command_line(None, ["GET /cart: p95 < 300ms"])
    assert [r.title for r in step_rules(given, None, None).rules] == ["GET /cart: p95 < 300ms"]
    assert [r.title for r in step_rules(given, 200, None).rules] == ["*: p95 <= 200ms", "GET /cart: p95 < 300ms"]


def test_a_step_breaks_on_the_rule_that_fails_and_a_rule_without_requests_is_inconclusive():
    rules = step_rules(from_command_line(None, ["GET /cart: p95 < 300ms", "GET /never: p99 < 1s", "*: max < 1s"]),
                       None, None)
    # The pseudo-endpoint is left out of '*' (its 5 s would break '*: max < 1s').
    buckets = {"GET /item": _bucket(10), "GET /cart": _bucket(500), "CS first response": _bucket(5000)}
    step = judge_rules(rules, buckets, 4, {}, ["CS first response"])
    assert step.broken_by == ("GET /cart: p95 < 300ms",) and step.inconclusive == ("GET /never: p99 < 1s",)
    assert step.why.startswith("rule 'GET /cart: p95 < 300ms': p95 ") and "inconclusive" in step.why
    held = judge_rules(rules, {"GET /item": _bucket(10), "GET /cart": _bucket(100)}, 4, {}, ["CS first response"])
    assert held.broken_by == () and held.inconclusive == ("GET /never: p99 < 1s",)


CART_RULES = """\
rules:
  - name: carts p95 under 300 ms
    requests: GET /cart
    metric: p95
    bound: < 300ms
  - name: no errors
    requests: "*"
    metric: error_ratio
    bound: < 1%
"""


@pytest.mark.slow
def test_capacity_steps_are_judged_by_slo_rules_and_name_the_rule_that_broke(tmp_path):
    """A server that is not the reference shop, its plain locustfile and a rule file: the latency knob is
    turned up when the first step ends, so the cart rule breaks the second step, and says so."""
    (tmp_path / "slo.yaml").write_text(CART_RULES)
    reports = tmp_path / "reports"
    with knob_server(tmp_path, 50) as url:  # carts answer in 2 x 50 ms
        process = start_peakdrill("capacity", write_steps_profile(tmp_path), "--host", url, "--locustfile",
                                  PLAIN_LOCUSTFILE, "--slo", str(tmp_path / "slo.yaml"), "--start-users", "8",
                                  "--step-users", "8", "--max-users", "32", "--step-duration", "6s",
                                  "--forecast-rps", "4", "--reports-dir", str(reports), "--no-progress")
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and process.poll() is None:
                meta = [json.loads(p.read_text()) for p in reports.glob("*/run.json")] if reports.exists() else []
                if meta and meta[0].get("start_ts") and len(meta[0].get("stages", [])) > 1:
                    # stages[0] is the warm-up, stages[1] step 1: slow the server from step 2 on.
                    time.sleep(max(0.0, meta[0]["start_ts"] + meta[0]["stages"][1]["end_s"] - time.time()))
                    set_knob(url, 400)
                    break
                time.sleep(0.2)
        finally:
            result = finish(process, 120)
    output = result.stdout[-4000:] + result.stderr[-3000:]
    (run_dir,) = reports.iterdir()
    capacity = json.loads((run_dir / "capacity.json").read_text())
    assert [rule["name"] for rule in capacity["slo"]["rules"]] == ["carts p95 under 300 ms", "no errors"], output
    first, broke = capacity["steps"][0], capacity["broke_at"]
    assert first["held"] is True and capacity["knee"]["step"] == 1, output
    assert broke and broke["step"] == 2 and broke["broken_by"] == ["carts p95 under 300 ms"], output
    assert broke["why"].startswith("rule 'carts p95 under 300 ms': p95 "), output
    report = (run_dir / "report.md").read_text()
    assert "broke: rule 'carts p95 under 300 ms'" in report and "no errors" in report
    assert result.returncode == 0, output  # 8 req/s at the knee over a forecast of 4: the headroom holds
