"""Capacity search: against a server of known capacity (K slots x service time S), the knee lands
within 15% of K/S; and the headroom verdict says only what the search's bounds support."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadkit import LOCUSTFILE, OPEN_LOCUSTFILE, peakdrill
from peakdrill.rundir.histfiles import iter_records
from peakdrill.report.capacity import headroom_verdict, parse_capacity
from targets import slot_server

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
